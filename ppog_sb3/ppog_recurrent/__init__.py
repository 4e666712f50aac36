from ppog_sb3.ppog_recurrent.ppog_recurrent import RecurrentPPOG

__all__ = ["RecurrentPPOG"]
