"""moto's request handling, common to every service."""


def actions_listed_once(args):
    """Each service's list of actions is read from its response class once,
    not at every request (core/responses.py:451 calls inspect.getmembers on
    the class for each one). Read at the first request, after every other
    correction has added its actions (a speed-up only)."""
    from moto.core import responses

    original = responses.method_names_from_class
    listed = {}

    def method_names_from_class(clazz):
        names = listed.get(clazz)
        if names is None:
            names = listed[clazz] = frozenset(original(clazz))
        return names

    responses.method_names_from_class = method_names_from_class
