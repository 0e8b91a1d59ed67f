"""Kernel images in a /boot-like directory: releases, SRv6 from the config file, --kernel."""

from __future__ import annotations

from pathlib import Path

import pytest

from srinspect.kernel import images
from srinspect.kernel.images import ImageError, release_key


def make_boot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
              kernels: dict[str, str | None]) -> Path:
    """A fake /boot (and /lib/modules) holding ``release -> config text or None``."""
    boot, modules = tmp_path / "boot", tmp_path / "modules"
    boot.mkdir()
    modules.mkdir()
    for release, config in kernels.items():
        (boot / f"vmlinuz-{release}").write_bytes(b"MZ")
        (modules / release).mkdir()
        if config is not None:
            (boot / f"config-{release}").write_text(config)
    monkeypatch.setattr(images, "MODULES", modules)
    return boot


SRV6 = "CONFIG_IPV6=y\nCONFIG_IPV6_SEG6_LWTUNNEL=y\nCONFIG_IPV6_SEG6_HMAC=y\n"
NO_LWT = "CONFIG_IPV6=y\n# CONFIG_IPV6_SEG6_LWTUNNEL is not set\nCONFIG_IPV6_SEG6_HMAC=y\n"


def test_installed_images_newest_first_with_srv6_from_config(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    boot = make_boot(tmp_path, monkeypatch, {"6.1.0-57-amd64": SRV6, "6.12.118+deb12-amd64": SRV6,
                                             "6.18.44-cloud": NO_LWT, "5.10.0-9-amd64": None})
    found = images.installed(boot)
    assert [i.release for i in found] == ["6.18.44-cloud", "6.12.118+deb12-amd64",
                                         "6.1.0-57-amd64", "5.10.0-9-amd64"]
    by = {i.release: i for i in found}
    assert by["6.12.118+deb12-amd64"].srv6 is True
    assert by["6.18.44-cloud"].srv6 is False
    assert "CONFIG_IPV6_SEG6_LWTUNNEL" in (by["6.18.44-cloud"].srv6_missing() or "")
    assert by["5.10.0-9-amd64"].srv6 is None  # no config file: unknown, not "no"
    assert images.newest_with_srv6(found).release == "6.12.118+deb12-amd64"  # type: ignore


def test_an_image_without_modules_is_not_usable(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    boot = make_boot(tmp_path, monkeypatch, {"6.1.0-57-amd64": SRV6})
    (tmp_path / "modules" / "6.1.0-57-amd64").rmdir()
    (image,) = images.installed(boot)
    assert "no modules directory" in (image.srv6_missing() or "")
    assert images.newest_with_srv6([image]) is None


def test_resolve_by_release_part_path_and_errors(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    boot = make_boot(tmp_path, monkeypatch, {"6.1.0-57-amd64": SRV6,
                                             "6.12.118+deb12-amd64": SRV6})
    found = images.installed(boot)
    assert images.resolve("6.1", found).release == "6.1.0-57-amd64"  # not 6.12
    assert images.resolve("6.12", found).release == "6.12.118+deb12-amd64"
    assert images.resolve("6.1.0-57-amd64", found).release == "6.1.0-57-amd64"
    path = boot / "vmlinuz-6.12.118+deb12-amd64"
    assert images.resolve(str(path), found).path == path
    with pytest.raises(ImageError, match="no kernel image matches '5.4'.*6.1.0-57-amd64"):
        images.resolve("5.4", found)
    with pytest.raises(ImageError, match="matches several"):
        images.resolve("6", found)
    with pytest.raises(ImageError, match="does not exist"):
        images.resolve(str(boot / "vmlinuz-nope"), found)


def test_release_order_compares_numbers_as_numbers() -> None:
    assert release_key("6.12.1") > release_key("6.1.0-57-amd64") > release_key("5.10.0")
    assert release_key("6.1.0-57-amd64") > release_key("6.1.0-9-amd64")
