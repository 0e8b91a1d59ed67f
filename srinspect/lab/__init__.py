"""The SRv6 steering lab: the Linux SRv6 demonstration as one command, on real kernel
forwarding (network namespaces, veth links shaped with tc, iperf3, iproute2 SR policies).

For readers of a running lab (``srinspect monitor --lab``)::

    from srinspect.lab import Lab
    lab = Lab.load()                 # NotRunning if no lab is up
    lab.nodes, lab.links             # namespaces, veth names, addresses, SIDs, rates
    lab.node_of(address)             # address bytes/text -> node name
    sampler = UtilisationSampler(lab)
    loads = sampler.sample()         # {(src, dst): DirectionLoad(.bps, .utilisation)}
    with LabCapture(lab, ["A"]) as cap:  # srinspect's own capture of A's egress
        cap.flows()                  # {(src, dst): FlowPath(.segments, .history, .hops())}

The CLI is ``srinspect lab up|down|status|traffic|steer|demo`` (``srinspect.lab.cli``).
"""

from .capture import DirectionCapture, FlowPath, LabCapture
from .counters import DirectionCounters, DirectionLoad, UtilisationSampler
from .errors import LabError, NotRootError, NotRunning, TopologyError
from .lab import Lab, Policy
from .model import Direction, Link, LinkEnd, Node, Plan
from .topology import Topology, load_topology

__all__ = [
    "Direction",
    "DirectionCapture",
    "DirectionCounters",
    "DirectionLoad",
    "FlowPath",
    "Lab",
    "LabCapture",
    "LabError",
    "Link",
    "LinkEnd",
    "Node",
    "NotRootError",
    "NotRunning",
    "Plan",
    "Policy",
    "Topology",
    "TopologyError",
    "UtilisationSampler",
    "load_topology",
]
