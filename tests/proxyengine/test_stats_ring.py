"""The recent-connections ring: recorded cheaply per request, rows built when read."""

from test_protocol_unit import setup


def test_recent_connections_rows_are_built_on_read():
    loop, client, ct, conn, nt = setup()
    client.data_received(b"GET /a?b HTTP/1.1\r\nHost: x\r\n\r\n")
    conn.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    client.data_received(b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
    conn.data_received(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
    stats = client.engine.stats
    stats.connection_done(client.vs, "192.0.2.7", 7, "l4", "10.0.0.2:22", 10, 20, 0.0)
    rows = stats.recent_connections(10)
    assert [r["id"] for r in rows] == [3, 2, 1]
    generic, post, get = rows
    assert get["method"] == "GET" and get["url"] == "/a?b" and get["status"] == 200
    assert get["node"] == "10.0.0.1:80" and get["pool"] == "web" and get["client"] == "192.0.2.9:5555"
    assert get["bytes_out"] > 2 and get["duration_ms"] >= 0 and get["time"] > 1e9
    assert post["status"] == 201 and post["bytes_in"] == 3
    assert generic["node"] == "10.0.0.2:22" and generic["status"] == "closed" and generic["method"] == ""
    assert [r["id"] for r in stats.recent_connections(1)] == [3]
    loop.close()
