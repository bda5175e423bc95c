"""Rules in the style of the TrafficScript guide's examples, shared with the engine's end-to-end tests.

Each entry is (name, source). The engine tests can load them into a virtual server; the tests in
test_guide_rules.py check each one against a Transaction without a network.
"""

GUIDE_RULES: dict[str, str] = {
    "host-routing": """
        $host = http.getHostHeader();
        if ($host == "images.example.com") { pool.use("images"); }
        else if ($host == "api.example.com") { pool.use("api"); }
        pool.use("web");
    """,
    "path-routing": """
        $path = http.getPath();
        if (string.startsWith($path, "/static/")) { pool.use("images"); }
        if (string.regexMatch($path, "^/api/v(\\\\d+)/")) { http.setHeader("X-Api-Version", $1); pool.use("api"); }
    """,
    "redirect-to-https": """
        if (request.getLocalPort() == 80) {
            $url = "https://" . http.getHostHeader() . http.getRawURL();
            http.redirect($url);
        }
    """,
    "maintenance-page": """
        if (data.get("maintenance") == "on") {
            http.sendResponse("503 Service Unavailable", "text/html",
                "<h1>Down for maintenance</h1>", "Retry-After: 120");
        }
    """,
    "x-forwarded-for": """
        $xff = http.getHeader("X-Forwarded-For");
        if ($xff == "") { $xff = request.getRemoteIP(); } else { $xff = $xff . ", " . request.getRemoteIP(); }
        http.setHeader("X-Forwarded-For", $xff);
    """,
    "cookie-routing": """
        $group = http.getCookie("group");
        switch ($group) {
            case "beta": pool.use("beta");
            case "staff", "admin": pool.use("staff");
        }
    """,
    "ab-split-on-header": """
        $ua = http.getHeader("User-Agent");
        if (string.hash($ua) % 2 == 0) { http.setHeader("X-Variant", "A"); pool.select("web"); }
        else { http.setHeader("X-Variant", "B"); pool.select("beta"); }
    """,
    "rate-limit-api": """
        if (string.startsWith(http.getPath(), "/api/")) { rate.use("api-limit", request.getRemoteIP()); }
    """,
    "response-header-rewrite": """
        http.removeResponseHeader("Server");
        http.removeResponseHeader("X-Powered-By");
        http.setResponseHeader("Strict-Transport-Security", "max-age=31536000");
    """,
    "retry-5xx-on-second-pool": """
        if (http.getResponseCode() >= 500 && request.getRetries() < 1) {
            pool.select("fallback");
            request.retry();
        }
    """,
    "persistence-on-cookie": """
        $session = http.getCookie("JSESSIONID");
        if ($session != "") { connection.setPersistenceKey($session); }
    """,
    "block-ip-range": """
        if (string.ipmaskmatch(request.getRemoteIP(), "203.0.113.0/24")) { connection.discard(); }
    """,
    "deny-methods": """
        $m = http.getMethod();
        if ($m != "GET" && $m != "HEAD" && $m != "POST") {
            http.sendResponse(405, "text/plain", "Method not allowed", "Allow: GET, HEAD, POST");
        }
    """,
    "strip-query-tracking": """
        $q = http.getQueryString();
        $new = string.regexsub($q, "(^|&)utm_[a-z]+=[^&]*", "", "g");
        $new = string.regexsub($new, "^&", "");
        if ($new != $q) { http.setQueryString($new); }
    """,
    "rewrite-path-prefix": """
        $path = http.getPath();
        if (string.startsWith($path, "/old/")) { http.setPath("/new/" . string.skip($path, 5)); }
    """,
    "canonical-host": """
        if (http.getHostHeader() == "example.com") {
            http.redirect("https://www.example.com" . http.getRawURL());
        }
    """,
    "add-security-headers": """
        $h = ["X-Frame-Options" => "DENY", "X-Content-Type-Options" => "nosniff", "Referrer-Policy" => "same-origin"];
        foreach ($name in hash.keys($h)) { http.setResponseHeader($name, $h[$name]); }
    """,
    "error-page-replacement": """
        if (http.getResponseCode() == 404) {
            http.setResponseBody("<html><body>Sorry, not here.</body></html>");
            http.setResponseHeader("Content-Type", "text/html");
        }
    """,
    "set-response-cookie": """
        if (http.getCookie("visited") == "") { http.setResponseCookie("visited", "1", "Path=/; Max-Age=3600"); }
    """,
    "mobile-redirect": """
        $ua = string.lowercase(http.getHeader("User-Agent"));
        if (string.contains($ua, "iphone") || string.contains($ua, "android")) {
            http.redirect("https://m.example.com" . http.getPath());
        }
    """,
    "count-requests": """
        $n = data.get("hits:" . http.getHostHeader()) + 1;
        data.set("hits:" . http.getHostHeader(), $n);
        http.setHeader("X-Hit", $n);
    """,
    "log-slow-requests": """
        if (stats.getServerResponseTime() > 1) {
            log.warn("slow response from " . connection.getNode() . " for " . http.getPath());
        }
    """,
    "header-based-pool": """
        $tenant = string.lowercase(http.getHeader("X-Tenant"));
        if ($tenant == "" ) { http.sendResponse("400 Bad Request", "text/plain", "missing tenant", ""); }
        pool.use("tenant-" . $tenant);
    """,
    "basic-auth-gate": """
        $auth = http.getHeader("Authorization");
        if (!string.startsWith($auth, "Basic ") ||
            string.base64decode(string.skip($auth, 6)) != "admin:secret") {
            http.sendResponse("401 Unauthorized", "text/plain", "no", "WWW-Authenticate: Basic realm=\\"x\\"");
        }
    """,
    "json-api-rewrite": """
        if (http.getHeader("Content-Type") == "application/json") {
            $doc = json.deserialize(http.getBody());
            $doc["via"] = "tm";
            http.setBody(json.serialize($doc));
        }
    """,
    "wildcard-hosts": """
        switch (http.getHostHeader(), "string.wildmatch") {
            case "*.static.example.com": pool.use("images");
            case "*.api.example.com": pool.use("api");
            default: pool.use("web");
        }
    """,
    "node-pinning": """
        $node = http.getCookie("node");
        if (string.regexMatch($node, "^(\\\\d+\\\\.\\\\d+\\\\.\\\\d+\\\\.\\\\d+):(\\\\d+)$")) { pool.select("web", $1, $2); }
    """,
    "close-after-response": """
        if (http.getHeader("Connection") == "close" || http.getVersion() == "1.0") { response.close(); }
    """,
    "subroutine-library": """
        sub is_internal($ip) { return string.ipmaskmatch($ip, "10.0.0.0/8") || string.ipmaskmatch($ip, "192.168.0.0/16"); }
        if (!is_internal(request.getRemoteIP()) && string.startsWith(http.getPath(), "/admin")) {
            http.sendResponse(403, "text/plain", "Forbidden", "");
        }
    """,
    "time-based-routing": """
        $hour = sys.time.hour();
        if ($hour >= 22 || $hour < 6) { pool.use("night"); }
    """,
    "query-param-routing": """
        $v = http.getFormParam("version");
        if ($v == "2") { pool.use("beta"); }
    """,
    "emit-event-on-attack": """
        if (string.containsI(http.getRawURL(), "<script")) {
            event.emit("xss", "blocked request from " . request.getRemoteIP());
            connection.discard();
        }
    """,
}
