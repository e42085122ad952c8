"""The field table of config.json, for the msgspec-free decoder (``config.py``).

One row per field of each ``dockyard.oci.runtime`` type reachable from
``Spec``, in declaration order: (attribute, JSON name, type code, default
kind, default). Type codes: ``bool``/``int``/``str``, a type name, ``[T]`` a
list, ``{T}`` an object with string keys, ``?T`` T or null. Default kinds:
``!`` required, ``=`` this value, ``()`` a new empty list or object.

Generated from the msgspec types; ``tests/runtime/test_config_decode.py``
fails (and prints the new table) the moment the two disagree.
"""

from __future__ import annotations

Row = tuple[str, str, str, str, object]

FIELDS: dict[str, tuple[Row, ...]] = {
    'Spec': (
        ('oci_version', 'ociVersion', 'str', '!', None),
        ('process', 'process', '?Process', '=', None),
        ('root', 'root', '?Root', '=', None),
        ('hostname', 'hostname', '?str', '=', None),
        ('domainname', 'domainname', '?str', '=', None),
        ('mounts', 'mounts', '?[Mount]', '=', None),
        ('hooks', 'hooks', '?Hooks', '=', None),
        ('annotations', 'annotations', '?{str}', '=', None),
        ('linux', 'linux', '?Linux', '=', None),
    ),
    'Process': (
        ('terminal', 'terminal', 'bool', '=', False),
        ('console_size', 'consoleSize', '?ConsoleSize', '=', None),
        ('user', 'user', 'User', '()', 'User'),
        ('args', 'args', '?[str]', '=', None),
        ('command_line', 'commandLine', '?str', '=', None),
        ('env', 'env', '?[str]', '=', None),
        ('cwd', 'cwd', 'str', '=', '/'),
        ('capabilities', 'capabilities', '?LinuxCapabilities', '=', None),
        ('rlimits', 'rlimits', '?[POSIXRlimit]', '=', None),
        ('no_new_privileges', 'noNewPrivileges', 'bool', '=', False),
        ('apparmor_profile', 'apparmorProfile', '?str', '=', None),
        ('oom_score_adj', 'oomScoreAdj', '?int', '=', None),
        ('selinux_label', 'selinuxLabel', '?str', '=', None),
        ('io_priority', 'ioPriority', '?IOPriority', '=', None),
    ),
    'Root': (
        ('path', 'path', 'str', '!', None),
        ('readonly', 'readonly', 'bool', '=', False),
    ),
    'Mount': (
        ('destination', 'destination', 'str', '!', None),
        ('type', 'type', '?str', '=', None),
        ('source', 'source', '?str', '=', None),
        ('options', 'options', '?[str]', '=', None),
        ('uid_mappings', 'uidMappings', '?[LinuxIDMapping]', '=', None),
        ('gid_mappings', 'gidMappings', '?[LinuxIDMapping]', '=', None),
    ),
    'Hooks': (
        ('prestart', 'prestart', '?[Hook]', '=', None),
        ('create_runtime', 'createRuntime', '?[Hook]', '=', None),
        ('create_container', 'createContainer', '?[Hook]', '=', None),
        ('start_container', 'startContainer', '?[Hook]', '=', None),
        ('poststart', 'poststart', '?[Hook]', '=', None),
        ('poststop', 'poststop', '?[Hook]', '=', None),
    ),
    'Linux': (
        ('uid_mappings', 'uidMappings', '?[LinuxIDMapping]', '=', None),
        ('gid_mappings', 'gidMappings', '?[LinuxIDMapping]', '=', None),
        ('sysctl', 'sysctl', '?{str}', '=', None),
        ('resources', 'resources', '?LinuxResources', '=', None),
        ('cgroups_path', 'cgroupsPath', '?str', '=', None),
        ('namespaces', 'namespaces', '?[LinuxNamespace]', '=', None),
        ('devices', 'devices', '?[LinuxDevice]', '=', None),
        ('seccomp', 'seccomp', '?LinuxSeccomp', '=', None),
        ('rootfs_propagation', 'rootfsPropagation', '?str', '=', None),
        ('masked_paths', 'maskedPaths', '?[str]', '=', None),
        ('readonly_paths', 'readonlyPaths', '?[str]', '=', None),
        ('mount_label', 'mountLabel', '?str', '=', None),
        ('personality', 'personality', '?LinuxPersonality', '=', None),
    ),
    'ConsoleSize': (
        ('height', 'height', 'int', '=', 0),
        ('width', 'width', 'int', '=', 0),
    ),
    'User': (
        ('uid', 'uid', 'int', '=', 0),
        ('gid', 'gid', 'int', '=', 0),
        ('umask', 'umask', '?int', '=', None),
        ('additional_gids', 'additionalGids', '?[int]', '=', None),
        ('username', 'username', '?str', '=', None),
    ),
    'LinuxCapabilities': (
        ('bounding', 'bounding', '?[str]', '=', None),
        ('effective', 'effective', '?[str]', '=', None),
        ('inheritable', 'inheritable', '?[str]', '=', None),
        ('permitted', 'permitted', '?[str]', '=', None),
        ('ambient', 'ambient', '?[str]', '=', None),
    ),
    'POSIXRlimit': (
        ('type', 'type', 'str', '!', None),
        ('hard', 'hard', 'int', '!', None),
        ('soft', 'soft', 'int', '!', None),
    ),
    'IOPriority': (
        ('class_', 'class', 'str', '!', None),
        ('priority', 'priority', 'int', '=', 0),
    ),
    'LinuxIDMapping': (
        ('container_id', 'containerID', 'int', '!', None),
        ('host_id', 'hostID', 'int', '!', None),
        ('size', 'size', 'int', '!', None),
    ),
    'Hook': (
        ('path', 'path', 'str', '!', None),
        ('args', 'args', '?[str]', '=', None),
        ('env', 'env', '?[str]', '=', None),
        ('timeout', 'timeout', '?int', '=', None),
    ),
    'LinuxResources': (
        ('devices', 'devices', '?[LinuxDeviceCgroup]', '=', None),
        ('memory', 'memory', '?LinuxMemory', '=', None),
        ('cpu', 'cpu', '?LinuxCPU', '=', None),
        ('pids', 'pids', '?LinuxPids', '=', None),
        ('block_io', 'blockIO', '?LinuxBlockIO', '=', None),
        ('hugepage_limits', 'hugepageLimits', '?[LinuxHugepageLimit]', '=', None),
        ('network', 'network', '?LinuxNetwork', '=', None),
        ('unified', 'unified', '?{str}', '=', None),
    ),
    'LinuxNamespace': (
        ('type', 'type', 'str', '!', None),
        ('path', 'path', '?str', '=', None),
    ),
    'LinuxDevice': (
        ('path', 'path', 'str', '!', None),
        ('type', 'type', 'str', '!', None),
        ('major', 'major', '?int', '=', None),
        ('minor', 'minor', '?int', '=', None),
        ('file_mode', 'fileMode', '?int', '=', None),
        ('uid', 'uid', '?int', '=', None),
        ('gid', 'gid', '?int', '=', None),
    ),
    'LinuxSeccomp': (
        ('default_action', 'defaultAction', 'str', '!', None),
        ('default_errno_ret', 'defaultErrnoRet', '?int', '=', None),
        ('architectures', 'architectures', '?[str]', '=', None),
        ('flags', 'flags', '?[str]', '=', None),
        ('listener_path', 'listenerPath', '?str', '=', None),
        ('listener_metadata', 'listenerMetadata', '?str', '=', None),
        ('syscalls', 'syscalls', '?[LinuxSyscall]', '=', None),
    ),
    'LinuxPersonality': (
        ('domain', 'domain', 'str', '!', None),
        ('flags', 'flags', '?[str]', '=', None),
    ),
    'LinuxDeviceCgroup': (
        ('allow', 'allow', 'bool', '!', None),
        ('type', 'type', '?str', '=', None),
        ('major', 'major', '?int', '=', None),
        ('minor', 'minor', '?int', '=', None),
        ('access', 'access', '?str', '=', None),
    ),
    'LinuxMemory': (
        ('limit', 'limit', '?int', '=', None),
        ('reservation', 'reservation', '?int', '=', None),
        ('swap', 'swap', '?int', '=', None),
        ('kernel', 'kernel', '?int', '=', None),
        ('kernel_tcp', 'kernelTCP', '?int', '=', None),
        ('swappiness', 'swappiness', '?int', '=', None),
        ('disable_oom_killer', 'disableOOMKiller', '?bool', '=', None),
        ('use_hierarchy', 'useHierarchy', '?bool', '=', None),
        ('check_before_update', 'checkBeforeUpdate', '?bool', '=', None),
    ),
    'LinuxCPU': (
        ('shares', 'shares', '?int', '=', None),
        ('quota', 'quota', '?int', '=', None),
        ('burst', 'burst', '?int', '=', None),
        ('period', 'period', '?int', '=', None),
        ('realtime_runtime', 'realtimeRuntime', '?int', '=', None),
        ('realtime_period', 'realtimePeriod', '?int', '=', None),
        ('cpus', 'cpus', '?str', '=', None),
        ('mems', 'mems', '?str', '=', None),
        ('idle', 'idle', '?int', '=', None),
    ),
    'LinuxPids': (
        ('limit', 'limit', 'int', '!', None),
    ),
    'LinuxBlockIO': (
        ('weight', 'weight', '?int', '=', None),
        ('leaf_weight', 'leafWeight', '?int', '=', None),
        ('weight_device', 'weightDevice', '?[LinuxWeightDevice]', '=', None),
        ('throttle_read_bps_device', 'throttleReadBpsDevice', '?[LinuxThrottleDevice]', '=', None),
        ('throttle_write_bps_device', 'throttleWriteBpsDevice', '?[LinuxThrottleDevice]', '=', None),
        ('throttle_read_iops_device', 'throttleReadIOPSDevice', '[LinuxThrottleDevice]', '()', 'list'),
        ('throttle_write_iops_device', 'throttleWriteIOPSDevice', '[LinuxThrottleDevice]', '()', 'list'),
    ),
    'LinuxHugepageLimit': (
        ('page_size', 'pageSize', 'str', '!', None),
        ('limit', 'limit', 'int', '!', None),
    ),
    'LinuxNetwork': (
        ('class_id', 'classID', '?int', '=', None),
        ('priorities', 'priorities', '?[LinuxInterfacePriority]', '=', None),
    ),
    'LinuxSyscall': (
        ('names', 'names', '[str]', '!', None),
        ('action', 'action', 'str', '!', None),
        ('errno_ret', 'errnoRet', '?int', '=', None),
        ('args', 'args', '?[LinuxSeccompArg]', '=', None),
    ),
    'LinuxWeightDevice': (
        ('major', 'major', 'int', '!', None),
        ('minor', 'minor', 'int', '!', None),
        ('weight', 'weight', '?int', '=', None),
        ('leaf_weight', 'leafWeight', '?int', '=', None),
    ),
    'LinuxThrottleDevice': (
        ('major', 'major', 'int', '!', None),
        ('minor', 'minor', 'int', '!', None),
        ('rate', 'rate', 'int', '!', None),
    ),
    'LinuxInterfacePriority': (
        ('name', 'name', 'str', '!', None),
        ('priority', 'priority', 'int', '!', None),
    ),
    'LinuxSeccompArg': (
        ('index', 'index', 'int', '!', None),
        ('value', 'value', 'int', '!', None),
        ('op', 'op', 'str', '!', None),
        ('value_two', 'valueTwo', '?int', '=', None),
    ),
}
