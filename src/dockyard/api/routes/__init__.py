"""Route modules, one per area: ``system``, ``containers``, ``exec``, ``images``."""
