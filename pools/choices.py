"""Enumerations of pools and their classes, in the guide's words (values are the vTM schema's)."""

ALGORITHM_CHOICES = [
    ("round_robin", "Round Robin"),
    ("weighted_round_robin", "Weighted Round Robin"),
    ("perceptive", "Perceptive"),
    ("least_connections", "Least Connections"),
    ("weighted_least_connections", "Weighted Least Connections"),
    ("fastest_response_time", "Fastest Response Time"),
    ("random", "Random Node"),
]
NODE_STATE_CHOICES = [("active", "Active"), ("draining", "Draining"), ("disabled", "Disabled")]
MONITOR_TYPE_CHOICES = [
    ("ping", "Ping"), ("connect", "TCP connect"), ("http", "HTTP"), ("tcp_transaction", "TCP transaction"),
    ("rtsp", "RTSP"), ("sip", "SIP"), ("program", "External program"),
]
PERSISTENCE_TYPE_CHOICES = [
    ("ip", "IP-based persistence"), ("cookie", "Cookie-based persistence"),
    ("transparent", "Transparent session affinity"), ("universal", "Universal session persistence"),
    ("named", "Named node session persistence"), ("ssl", "SSL session ID persistence"),
    ("asp", "ASP and ASP.NET session persistence"), ("j2ee", "J2EE session persistence"),
    ("x_zeus", "X-Zeus-Backend cookies"),
]
PERSISTENCE_FAILURE_CHOICES = [("new_node", "Choose a new node"), ("close", "Close the connection"),
                               ("url", "Redirect to a URL")]
BANDWIDTH_SHARING_CHOICES = [("cluster", "All connections, across the cluster"),
                             ("machine", "All connections on each traffic manager"),
                             ("connection", "Each connection separately")]
