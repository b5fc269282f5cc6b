"""UMF-inspired XML for EU partners: Liaison's own namespace (``urn:liaison:partner:umf:1``)
and XSD, modelled on the EU Universal Message Format's entity/link shape but not conformant to
it (the EU schema is not public). See README.md for the field table."""

from __future__ import annotations

from adapters.umf.codec import CODEC, MEDIA_TYPE, UmfCodec
from adapters.umf.safe_xml import LIMITS, Limits
from adapters.umf.writing import NS

__all__ = ["CODEC", "LIMITS", "MEDIA_TYPE", "NS", "Limits", "UmfCodec"]
