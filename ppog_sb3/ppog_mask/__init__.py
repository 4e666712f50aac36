from ppog_sb3.ppog_mask.ppog_mask import MaskablePPOG

__all__ = ["MaskablePPOG"]
