"""Finding traffic manager clusters on the network, for configure and the Join a cluster wizard.

A traffic manager that answers discovery replies to a UDP datagram `VTM-DISCOVER 1`
sent to port 9090 with `VTM-HERE 1 <cluster id> <admin host:port>`. The responder
is part of the cluster work; until a node runs one, the list is simply empty.
"""

import socket
import time

DISCOVERY_PORT = 9090
QUERY = b"VTM-DISCOVER 1"


def discover_clusters(*, timeout: float = 1.0, targets: tuple[str, ...] = ("255.255.255.255", "127.0.0.1"),
                      port: int = DISCOVERY_PORT) -> list[list[str]]:
    """Clusters that answered, each as the sorted list of its admin servers' host:port."""
    clusters: dict[str, set[str]] = {}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        for target in targets:
            try:
                sock.sendto(QUERY, (target, port))
            except OSError:
                continue
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                data, _ = sock.recvfrom(2048)
            except (TimeoutError, OSError):
                break
            parts = data.decode(errors="replace").split()
            if len(parts) == 4 and parts[:2] == ["VTM-HERE", "1"]:
                clusters.setdefault(parts[2], set()).add(parts[3])
    return [sorted(members) for _, members in sorted(clusters.items())]
