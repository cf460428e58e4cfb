// Adds the session's CSRF token (from <meta name="csrf-token">) to every same-origin request
// that changes state: Dash callbacks POST to /_dash-update-component. The server refuses
// such requests without it (403).
(function () {
    "use strict";
    function token() {
        var meta = document.querySelector('meta[name="csrf-token"]');
        return meta ? meta.getAttribute("content") : "";
    }
    function sameOrigin(url) {
        try {
            return new URL(url, window.location.href).origin === window.location.origin;
        } catch (e) {
            return false;
        }
    }
    var safe = { GET: 1, HEAD: 1, OPTIONS: 1 };
    var originalFetch = window.fetch;
    window.fetch = function (input, init) {
        init = init || {};
        var method = (init.method || (input && input.method) || "GET").toUpperCase();
        var url = typeof input === "string" ? input : (input && input.url) || "";
        if (!safe[method] && sameOrigin(url)) {
            var headers = new Headers(init.headers || (input && input.headers) || {});
            headers.set("X-CSRFToken", token());
            init.headers = headers;
        }
        return originalFetch.call(this, input, init);
    };
    var originalSend = XMLHttpRequest.prototype.open;
    XMLHttpRequest.prototype.open = function (method, url) {
        this._hwUnsafe = !safe[String(method).toUpperCase()] && sameOrigin(url);
        return originalSend.apply(this, arguments);
    };
    var send = XMLHttpRequest.prototype.send;
    XMLHttpRequest.prototype.send = function (body) {
        if (this._hwUnsafe) {
            this.setRequestHeader("X-CSRFToken", token());
        }
        return send.call(this, body);
    };
})();
