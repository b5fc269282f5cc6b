"""An office's key pairs: the pure model (``model``) and their files on disk (``files``)."""
