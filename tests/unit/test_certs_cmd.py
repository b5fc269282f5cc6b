"""``liaison broker certs``: a private CA, server and client certificates, kept when still right."""

import json
import stat
from pathlib import Path

from click.testing import CliRunner
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from broker.cli.main import cli


def _certs(out: Path, *args: str) -> dict[str, object]:
    result = CliRunner().invoke(cli, ["broker", "certs", "--out", str(out), "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def _load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_writes_a_ca_and_certificates_it_signed(tmp_path: Path) -> None:
    report = _certs(tmp_path, "--server", "hub-1,hub-2,10.0.0.7", "--client", "link-yunnan")
    assert report["ca_state"] == "new"
    ca = _load(tmp_path / "ca.pem")
    server, client = _load(tmp_path / "hub-1.pem"), _load(tmp_path / "link-yunnan.pem")
    for cert in (server, client):
        cert.verify_directly_issued_by(ca)
    sans = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["hub-1", "hub-2"]
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["10.0.0.7"]
    usage = client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    for key in ("ca-key.pem", "hub-1-key.pem", "link-yunnan-key.pem"):
        assert stat.S_IMODE((tmp_path / key).stat().st_mode) == 0o600


def test_again_keeps_what_is_right_and_reissues_what_changed(tmp_path: Path) -> None:
    _certs(tmp_path, "--server", "hub-1", "--client", "link-a")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    report = _certs(tmp_path, "--server", "hub-1,hub-2", "--client", "link-a")
    states = {row["name"]: row["state"] for row in report["certificates"]}  # type: ignore[attr-defined]
    assert report["ca_state"] == "kept"
    assert states == {"hub-1": "new", "link-a": "kept"}
    assert (tmp_path / "link-a.pem").read_bytes() == before["link-a.pem"]
    assert (tmp_path / "ca-key.pem").read_bytes() == before["ca-key.pem"]
    assert (tmp_path / "hub-1.pem").read_bytes() != before["hub-1.pem"]


def test_refuses_half_a_ca_and_clashing_names(tmp_path: Path) -> None:
    runner = CliRunner()
    (tmp_path / "ca.pem").write_text("not a certificate")
    result = runner.invoke(cli, ["broker", "certs", "--out", str(tmp_path), "--client", "x"])
    assert result.exit_code != 0
    for args in (["--client", "ca"], ["--server", "a", "--client", "a"], ["--server", "a b"]):
        result = runner.invoke(cli, ["broker", "certs", "--out", str(tmp_path / "o"), *args])
        assert result.exit_code != 0, args
        assert not (tmp_path / "o" / "ca-key.pem").exists()
