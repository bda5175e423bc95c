"""Enumerations of virtual servers, in the guide's words (values are the vTM schema's)."""

PROTOCOL_CHOICES = [
    ("http", "HTTP"), ("https", "HTTPS (SSL pass-through)"), ("stream", "Generic streaming"),
    ("client_first", "Generic client first"), ("server_first", "Generic server first"), ("ssl", "SSL (generic)"),
    ("ftp", "FTP"), ("smtp", "SMTP"), ("pop3", "POP3"), ("pop3s", "POP3S"), ("imapv4", "IMAPv4"),
    ("imaps", "IMAPS"), ("imapv2", "IMAPv2"), ("imapv3", "IMAPv3"), ("ldap", "LDAP"), ("ldaps", "LDAPS"),
    ("telnet", "Telnet"), ("rtsp", "RTSP"), ("siptcp", "SIP over TCP"), ("sipudp", "SIP over UDP"),
    ("dns", "DNS (UDP)"), ("dns_tcp", "DNS (TCP)"), ("udp", "UDP"), ("udpstreaming", "UDP streaming"),
]
