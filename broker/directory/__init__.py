"""The signed trust directory: offices, keys, agreements, and who signs it (docs/directory.md).

Pure except ``store`` (files on disk): the TOML source compiles to content (``source``), the
content encodes to exact bytes (``wire``) that administrators sign in turn (``signing``), and an
office accepts a signed directory only by the loading rules (``trust``): size, a threshold of
trusted signatures, root rotation signed by old and new, no rollback, not expired. The accepted
``Directory`` answers which key was valid when, whom to seal to, and which agreements exist.
"""

from broker.directory.anchors import decode_root, decode_state, encode_root, encode_state
from broker.directory.diff import Change, diff_contents
from broker.directory.directory import Directory
from broker.directory.model import (
    Adapter,
    AdminKey,
    Agreement,
    DirectoryContent,
    KeyStatus,
    Office,
    OfficeKey,
    Revocation,
    Root,
    Routing,
)
from broker.directory.render import render_source
from broker.directory.signing import add_signature, sign_content, signed_input
from broker.directory.source import compile_source
from broker.directory.trust import (
    Accepted,
    DirectoryLimits,
    DirectoryRule,
    TrustState,
    accept_chain,
    accept_directory,
    refusal_rule,
)
from broker.directory.vocabulary import DataCategory, KeyUse, RevocationReason
from broker.directory.wire import (
    Signature,
    SignedParts,
    decode_content,
    decode_signed,
    encode_content,
    encode_signed,
)

__all__ = [
    "Accepted",
    "Adapter",
    "AdminKey",
    "Agreement",
    "Change",
    "DataCategory",
    "Directory",
    "DirectoryContent",
    "DirectoryLimits",
    "DirectoryRule",
    "KeyStatus",
    "KeyUse",
    "Office",
    "OfficeKey",
    "Revocation",
    "RevocationReason",
    "Root",
    "Routing",
    "Signature",
    "SignedParts",
    "TrustState",
    "accept_chain",
    "accept_directory",
    "add_signature",
    "build_unsigned",
    "compile_source",
    "decode_content",
    "decode_root",
    "decode_signed",
    "decode_state",
    "diff_contents",
    "encode_content",
    "encode_root",
    "encode_signed",
    "encode_state",
    "refusal_rule",
    "render_source",
    "sign_content",
    "signed_input",
]


def build_unsigned(source: str | bytes, *, name: str = "directory source") -> bytes:
    """Compile a TOML source into a SignedDirectory with no signature yet (``directory build``)."""
    return encode_signed(encode_content(compile_source(source, name=name)))
