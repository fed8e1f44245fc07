"""Registry of process effects beyond set_status (notices, receivables ... register here)."""

effect_handlers: dict = {}


def register_effect(name: str):
    def deco(fn):
        effect_handlers[name] = fn
        return fn

    return deco
