"""The ``dockyard`` command: docker's command names, flags and exit codes.

Commands load lazily (``main.COMMANDS`` maps each name to its module), so
``dockyard --help`` and every command pay only for their own imports.
Exit codes as docker's: 125 when dockyard itself fails, 126 when the
command cannot be invoked, 127 when it is not found, else the container's.
"""
