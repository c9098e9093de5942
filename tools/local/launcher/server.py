"""Not a correction: the HTTP server in front of moto. werkzeug's, with
connections kept open between requests, as AWS's endpoints keep them.

werkzeug 3.1 closes every connection after one request (serving.py:298-302:
http.server cannot skip a body the application left unread) and, after each
response, reads whatever the client has sent meanwhile and throws it away
(:344-368), which on a kept connection would be the next request. Closing
cost every request a new connection and moto a new serving thread, a quarter
of its time in a burst of orders (py-spy). Here a body with a length is read
whole before the application runs, so nothing is left to skip: such a
connection stays open and is not drained. A chunked body (no length) closes
its connection, as before.

moto's log keeps only the requests that failed: a line for each of the
others cost a tenth of moto's time, and the launcher counts every request
(`GET /_invctl/requests`)."""

import io
import selectors
import threading

WERKZEUG_VERSION = "3.1.9"

_request = threading.local()


class _NoDrainSelectors:
    """`selectors` as werkzeug.serving sees it: on a kept connection, the
    selector of its drain loop finds nothing to read."""

    EVENT_READ = selectors.EVENT_READ

    class _Nothing:
        def register(self, *args, **kwargs):
            pass

        def select(self, timeout=None):
            return []

        def close(self):
            pass

    def DefaultSelector(self):  # noqa: N802 (the name werkzeug calls)
        if getattr(_request, "keep_alive", False):
            return self._Nothing()
        return selectors.DefaultSelector()


def bodies_read_first(app):
    """A WSGI layer: a request's body, when it has a length, read whole
    before the application runs."""

    def layer(environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length:
            environ["wsgi.input"] = io.BytesIO(environ["wsgi.input"].read(length))
        return app(environ, start_response)

    return layer


def serve(app, host, port):
    import werkzeug
    from werkzeug import serving

    version = getattr(werkzeug, "__version__", None)
    if version is None:
        from importlib.metadata import version as installed

        version = installed("werkzeug")
    if version != WERKZEUG_VERSION:
        raise SystemExit(f"moto_launcher: written for werkzeug {WERKZEUG_VERSION}, found {version}; "
                         f"install tools/requirements.txt (scripts/setup-tools.sh)")
    serving.selectors = _NoDrainSelectors()

    class RequestHandler(serving.WSGIRequestHandler):
        # A response goes out in two writes (headers, then body); on a kept
        # connection Nagle's algorithm holds the body back until the client
        # acknowledges the headers, which it delays: 40 ms per request.
        disable_nagle_algorithm = True

        def run_wsgi(self):
            chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
            _request.keep_alive = not chunked
            try:
                super().run_wsgi()
            finally:
                _request.keep_alive = False

        def send_header(self, keyword, value):
            if keyword.lower() == "connection" and value.lower() == "close" and _request.keep_alive:
                return
            super().send_header(keyword, value)

        def log_request(self, code="-", size="-"):
            try:
                failed = int(code) >= 400
            except (TypeError, ValueError):
                failed = True
            if failed:
                super().log_request(code, size)

    serving.run_simple(host, port, bodies_read_first(app), threaded=True, use_reloader=False,
                       request_handler=RequestHandler)


def backends_found_once(args):
    """Each host's backend is looked up once, not at every request
    (moto_server/werkzeug_app.py:120-138 lists moto's package folder from
    disk and tries every service's URL patterns for each request, under the
    dispatcher's one lock: a fifth of moto's time in a burst by py-spy).
    The answer depends on the host alone (a speed-up only)."""
    import functools

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    # Bounded: the Host header is whatever a client sends.
    DomainDispatcherApplication.get_backend_for_host = functools.lru_cache(maxsize=1024)(
        DomainDispatcherApplication.get_backend_for_host)
