"""moto's request handling, common to every service: actions listed once,
service models loaded once."""


def actions_listed_once(args):
    """Each service's list of actions is read from its response class once,
    not at every request (core/responses.py:451 calls inspect.getmembers on
    the class for each one). Read at the first request, after every other
    correction has added its actions (a speed-up only)."""
    import functools

    from moto.core import responses

    original = responses.method_names_from_class

    @functools.lru_cache(maxsize=None)  # one entry per response class
    def method_names_from_class(clazz):
        return frozenset(original(clazz))

    responses.method_names_from_class = method_names_from_class


def service_models_loaded_once(args):
    """Each service's botocore model is loaded by one request, the others
    wait for it (core/utils.py:449 caches the model without a lock, so the
    first burst of requests to a service loaded and parsed its JSON once
    per request in flight: a tenth of moto's time in a burst's first half
    minute by py-spy). The model is botocore's, as before (a speed-up only)."""
    import threading

    from moto.core import responses, routing, utils

    original = utils.get_service_model
    lock = threading.Lock()
    loaded = {}

    def get_service_model(service_name):
        model = loaded.get(service_name)
        if model is None:
            with lock:
                model = loaded.get(service_name)
                if model is None:
                    model = loaded[service_name] = original(service_name)
        return model

    for module in (utils, responses, routing):
        module.get_service_model = get_service_model
