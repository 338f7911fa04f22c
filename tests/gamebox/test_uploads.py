"""Upload checks: what a game must be before anyone plays it, each rejection's exact reason."""

from __future__ import annotations

import io

import pytest

from wasmplug.gamebox.catalogue.base import GameLimits
from wasmplug.gamebox.descriptions import render as render_description
from wasmplug.gamebox.errors import UploadRejected
from wasmplug.gamebox.uploads import UploadPolicy, check_artwork, check_game, slugify

from .wat_games import game_wasm

pytestmark = pytest.mark.timeout(60)
POLICY = UploadPolicy(max_bytes=2 * 1024 * 1024, limits=GameLimits(timeout_ms=300))


def reasons(wasm: bytes, policy: UploadPolicy = POLICY) -> list[str]:
    with pytest.raises(UploadRejected) as caught:
        check_game(wasm, policy)
    assert str(caught.value).startswith("the upload was rejected: ")
    return caught.value.reasons


def test_a_complete_game_passes_the_trial_run() -> None:
    check_game(game_wasm(), POLICY)
    check_game(game_wasm(missing=("get_constraints",)), POLICY)  # get_constraints is optional


def test_a_file_that_is_not_wasm_is_rejected() -> None:
    assert reasons(b"<html><script>alert(1)</script></html>") == [
        "the file is not WebAssembly (a .wasm file starts with \\0asm): upload the compiled .wasm"]
    # WAT text is not accepted either: uploads are compiled modules
    assert reasons(b'(module (func (export "render")))')[0].startswith("the file is not WebAssembly")


def test_an_oversized_file_is_rejected_before_it_is_parsed() -> None:
    big = game_wasm(padding=3 * 1024 * 1024)
    assert reasons(big) == [f"the file is {len(big)} bytes, larger than the {2 * 1024 * 1024}-byte cap"]


def test_a_truncated_module_is_rejected() -> None:
    (reason,) = reasons(game_wasm()[:60])
    assert reason.startswith("the file is not a valid WebAssembly module: ")
    assert "not valid WebAssembly" in reason


def test_a_module_missing_render_is_rejected() -> None:
    assert reasons(game_wasm(missing=("render",))) == [
        "it does not export the function 'render' the game API needs"]


def test_an_import_gamebox_does_not_offer_is_rejected_and_every_reason_is_given() -> None:
    assert reasons(game_wasm(extra_import=True, missing=("render", "init_game"))) == [
        "it does not export the function 'init_game' the game API needs",
        "it does not export the function 'render' the game API needs",
        "it imports extism:host/user.steal_files, which GameBox does not offer "
        "(games may import only the Extism kernel, its host environment and WASI)"]


@pytest.mark.parametrize("function", ["get_constraints", "init_game", "render", "handle_event"])
def test_a_trap_in_the_trial_run_is_rejected(function: str) -> None:
    assert reasons(game_wasm(trap_in=function)) == [
        f"{function} failed in the trial run: wasm trap: wasm `unreachable` instruction executed"]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("function", ["get_constraints", "init_game", "render"])
def test_an_endless_loop_in_the_trial_run_is_stopped_and_rejected(function: str) -> None:
    assert reasons(game_wasm(loop_in=function)) == [
        f"{function} failed in the trial run: timeout: the call ran longer than timeout_ms (300 ms)"]


def test_a_10_mb_render_is_rejected() -> None:
    assert reasons(game_wasm(huge_render=True)) == [
        "render failed in the trial run: the output (10485760 bytes) exceeds "
        "memory.max_output_bytes (262144 bytes)"]


def test_malformed_constraints_are_rejected() -> None:
    assert reasons(game_wasm(constraints='{"min_players": 3, "max_players": 1}')) == [
        "get_constraints gave min_players 3 and max_players 1: they must be whole numbers with "
        "1 <= min_players <= max_players <= 64"]
    assert reasons(game_wasm(constraints="nope"))[0].startswith("get_constraints must return JSON")


def test_the_trial_run_has_a_time_budget() -> None:
    slow = UploadPolicy(limits=GameLimits(timeout_ms=300), trial_seconds=0.0)
    assert reasons(game_wasm(), slow) == [
        "the trial run took longer than 0 s (before get_constraints)"]


@pytest.mark.parametrize(("name", "slug"), [
    ("../../etc/passwd.wasm", "passwd"), ("..\\..\\x.wasm", "x"), ("/abs/Tic Tac.wasm", "tic-tac"),
    ("....wasm", ""), ("game", "game")])
def test_file_names_cannot_point_anywhere(name: str, slug: str) -> None:
    assert slugify(name) == slug


def test_markdown_descriptions_are_sanitised() -> None:
    html = render_description("**bold** <script>alert(1)</script> [x](javascript:alert(2)) "
                              '<img src=x onerror="alert(3)"> [site](https://example.org)')
    assert "<strong>bold</strong>" in html
    assert "<script" not in html and 'href="javascript' not in html and "<img" not in html
    assert '<a href="https://example.org" rel="nofollow noopener noreferrer">site</a>' in html
    assert "&lt;script&gt;" in html  # shown as text, never run


def _png(size: tuple[int, int] = (400, 300), fmt: str = "PNG") -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format=fmt)
    return out.getvalue()


def test_artwork_is_re_encoded_with_a_thumbnail() -> None:
    from PIL import Image

    art, thumb = check_artwork(_png())
    assert art.startswith(b"\x89PNG") and thumb.startswith(b"\x89PNG")
    assert Image.open(io.BytesIO(art)).size == (400, 300)
    assert Image.open(io.BytesIO(thumb)).size == (267, 200)


def test_a_polyglot_jpeg_loses_its_payload() -> None:
    payload = b"<html><script>alert(document.cookie)</script></html>PK\x03\x04zip"
    polyglot = _png(fmt="JPEG") + payload
    art, thumb = check_artwork(polyglot)
    assert payload not in art and b"<script" not in art and b"<script" not in thumb
    assert art.startswith(b"\x89PNG")  # a fresh PNG from the pixels, whatever came in


def test_svg_artwork_is_rejected() -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    with pytest.raises(UploadRejected) as caught:
        check_artwork(svg)
    assert caught.value.reasons == [
        "the artwork must be a PNG or JPEG image (it could not be read as one)"]


def test_other_image_formats_and_big_artwork_are_rejected() -> None:
    with pytest.raises(UploadRejected) as caught:
        check_artwork(_png(fmt="GIF"))
    assert caught.value.reasons == ["the artwork must be a PNG or JPEG image, not GIF"]
    with pytest.raises(UploadRejected) as caught:
        check_artwork(b"\x89PNG" + bytes(3 * 1024 * 1024))
    assert caught.value.reasons == [f"the artwork is {3 * 1024 * 1024 + 4} bytes, larger than the "
                                    f"{2 * 1024 * 1024}-byte cap"]
