"""srinspect: an IPv6 Segment Routing (SRv6) inspector and conformance tester.

The public API is the sans-I/O core (codec, rules, HMAC, inspector); sources and sinks are
the I/O edges around it.
"""

__version__ = "0.1.0"

from .errors import BuildError, CaptureFormatError, KeyFileError, SrinspectError
from .findings import Finding, HmacCheck
from .frame import Frame
from .inspector import Inspector, PacketResult
from .keys import Key, Keyring, build_keyring
from .rules import RULES, Profile, Rule, Severity
from .srh import Srh, SrhSpec, Tlv, pull_srh, push_srh, resolve

__all__ = [
    "RULES", "BuildError", "CaptureFormatError", "Finding", "Frame", "HmacCheck", "Inspector",
    "Key", "KeyFileError", "Keyring", "PacketResult", "Profile", "Rule", "Severity",
    "SrinspectError", "Srh", "SrhSpec", "Tlv", "__version__", "build_keyring", "pull_srh",
    "push_srh", "resolve",
]
