"""config.json loading: the shape, the version, and errors naming the field."""

import pytest

from dockyard.oci.errors import InvalidSpecError
from dockyard.oci.runtime import Spec, dump_config, load_config


def test_round_trip_keeps_spec_field_names() -> None:
    doc = (
        b'{"ociVersion":"1.0.2","process":{"args":["sh"],"noNewPrivileges":true,'
        b'"user":{"uid":0,"gid":0}},"root":{"path":"rootfs","readonly":true},'
        b'"linux":{"uidMappings":[{"containerID":0,"hostID":1000,"size":1}],'
        b'"resources":{"blockIO":{"weight":10},"memory":{"disableOOMKiller":false}}}}'
    )
    spec = load_config(doc)
    assert isinstance(spec, Spec)
    assert spec.process is not None and spec.process.no_new_privileges
    assert spec.linux is not None and spec.linux.uid_mappings is not None
    assert spec.linux.uid_mappings[0].host_id == 1000
    out = dump_config(spec)
    assert b'"containerID":0' in out and b'"hostID":1000' in out
    assert b'"noNewPrivileges":true' in out and b'"blockIO":{"weight":10}' in out
    assert load_config(out) == spec


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        (b'{"ociVersion":"1.0.2","process":{"user":{"uid":"x"}}}', "$.process.user.uid"),
        (b'{"ociVersion":"2.0.0"}', "unsupported version '2.0.0'"),
        (b'{"process":{}}', "ociVersion"),
        (b'{"ociVersion":"1.0.0","linux":{"namespaces":[{"type":"bogus"}]}}',
         "$.linux.namespaces[0].type: unknown namespace type 'bogus'"),
        (b'{"ociVersion":"1.0.0","linux":{"namespaces":[{"type":"pid"},{"type":"pid"}]}}',
         "duplicate namespace 'pid'"),
        (b"{not json", "malformed JSON"),
    ],
)
def test_bad_config_names_the_problem(doc: bytes, fragment: str) -> None:
    with pytest.raises(InvalidSpecError) as e:
        load_config(doc)
    assert fragment in str(e.value)
