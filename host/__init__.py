"""The host side of a board: byte links, the frame driver, and training on chip."""

from .driver import Host, HostError, run_sync
from .link import Link, LinkError, SerialLink, SimLink
from .training import BoardPC

__all__ = ["Host", "HostError", "run_sync", "Link", "LinkError", "SerialLink", "SimLink",
           "BoardPC"]
