import os
import subprocess
import sys

import av
import numpy as np
import pytest
import torch
from PIL import Image

from videopoet.io import (
    MediaError,
    WalkReport,
    find_media,
    read_video,
    save_contact_sheet,
    to_uint8_frames,
    walk_media,
    write_video,
)
from videopoet.world import render_clip


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    error = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255.0**2 / max(error, 1e-12))


def _moving_clip():
    """A clip whose consecutive frames all differ (a moving camera)."""
    return next(clip for clip in map(lambda seed: render_clip("train", seed), range(100)) if clip.scene.camera != "static")


def test_mp4_round_trip_keeps_frames_fps_and_audio(world_mp4):
    path, clip = world_mp4
    media = read_video(path)
    assert media.video.shape == (3, 17, 64, 64) and media.video.dtype == torch.float32
    assert -1.0 <= media.video.min() and media.video.max() <= 1.0
    assert media.fps == 8 and media.num_frames == 17 and media.seconds == pytest.approx(17 / 8)
    assert _psnr(to_uint8_frames(media.video), clip.video) > 30
    assert media.audio.shape == (34_000,) and media.sample_rate == 16_000
    # AAC keeps the tones where they were: no offset, high SNR
    error = media.audio.numpy() - clip.audio
    assert 10 * np.log10(np.mean(clip.audio**2) / np.mean(error**2)) > 20


def test_frame_rate_resampling_picks_the_frames_shown_at_each_time(tmp_path):
    clip = _moving_clip()
    path = write_video(tmp_path / "c.mp4", clip.video, 8, audio=clip.audio)
    native = read_video(path).video
    half = read_video(path, fps=4)
    assert half.video.shape[1] == 9 and half.fps == 4
    torch.testing.assert_close(half.video, native[:, ::2])
    double = read_video(path, fps=16)
    assert double.video.shape[1] == 34
    torch.testing.assert_close(double.video[:, ::2], native)
    torch.testing.assert_close(double.video[:, 1::2], native)


def test_resize_and_centre_crop(tmp_path):
    frames = np.zeros((5, 64, 96, 3), dtype=np.uint8)
    frames[:, :, 24:72] = 255  # a white centre band, 48 pixels wide
    path = write_video(tmp_path / "wide.mp4", frames, 8)
    media = read_video(path, size=32)
    assert media.video.shape == (3, 5, 32, 32)
    assert media.video[:, :, :, 4:28].mean() > 0.9  # the crop keeps the centre band
    assert read_video(path, size=(16, 48)).video.shape == (3, 5, 16, 48)


def test_time_window_selects_frames_and_audio(world_mp4):
    path, clip = world_mp4
    full = read_video(path)
    window = read_video(path, fps=8, start=0.5, duration=1.0)
    assert window.video.shape[1] == 8
    torch.testing.assert_close(window.video, full.video[:, 4:12])
    assert window.audio.shape == (16_000,)
    torch.testing.assert_close(window.audio, full.audio[8_000:24_000])


def test_gif_and_contact_sheet_are_written(tmp_path):
    clip = _moving_clip()
    gif = write_video(tmp_path / "c.gif", clip.video, 8)
    with Image.open(gif) as image:
        assert image.n_frames == 17 and image.size == (64, 64)
    assert read_video(gif, fps=8).video.shape == (3, 17, 64, 64)
    sheet = save_contact_sheet(tmp_path / "sheet.png", [clip.video, clip.video], [clip.caption, "second"], frames_per_clip=4)
    with Image.open(sheet) as image:
        assert image.width >= 4 * 128 and image.height > 2 * 128


def test_float_tensors_are_accepted_for_writing(tmp_path):
    video = torch.rand(3, 5, 32, 32) * 2 - 1
    path = write_video(tmp_path / "f.mp4", video, 10, audio=torch.zeros(1, 8000))
    media = read_video(path)
    assert media.video.shape == (3, 5, 32, 32) and media.fps == 10 and media.audio.shape == (8000,)


def test_a_failed_write_leaves_nothing_behind(tmp_path):
    target = tmp_path / "odd.mp4"
    with pytest.raises(ValueError, match="even width and height"):
        write_video(target, np.zeros((3, 63, 64, 3), dtype=np.uint8), 8)
    with pytest.raises(ValueError, match="mono"):
        write_video(target, np.zeros((3, 64, 64, 3), dtype=np.uint8), 8, audio=np.zeros((2, 100)))
    assert list(tmp_path.iterdir()) == []


def _bad_files(folder, good_mp4: bytes) -> dict[str, str]:
    """Each kind of bad input, by file name, with the reason the error must give."""
    (folder / "missing.mp4").unlink(missing_ok=True)
    (folder / "text.mp4").write_text("this is not a video, only some text " * 20)
    (folder / "truncated.mp4").write_bytes(good_mp4[: len(good_mp4) * 6 // 10])
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "zero_frames.y4m").write_text("YUV4MPEG2 W64 H64 F8:1 Ip A1:1 C420jpeg\n")
    with av.open(str(folder / "audio_only.mp4"), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=16_000)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 16_000), np.float32), format="flt", layout="mono")
        frame.sample_rate, frame.pts = 16_000, 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return {
        "missing.mp4": "no such file",
        "text.mp4": "not a media file",
        "truncated.mp4": "truncated",
        "empty.mp4": "empty file",
        "zero_frames.y4m": "no video frames",
        "audio_only.mp4": "no video stream",
    }


def test_every_bad_input_raises_media_error_naming_file_and_reason(tmp_path, world_mp4):
    good_path, _ = world_mp4
    for name, reason in _bad_files(tmp_path, good_path.read_bytes()).items():
        with pytest.raises(MediaError, match=reason) as caught:
            read_video(tmp_path / name)
        assert caught.value.path == str(tmp_path / name)
        assert str(tmp_path / name) in str(caught.value)
    with pytest.raises(MediaError, match="no video frames"):
        read_video(good_path, start=10.0)


def test_walk_skips_and_reports_bad_files_and_keeps_every_good_one(tmp_path, world_mp4):
    good_path, _ = world_mp4
    reasons = _bad_files(tmp_path, good_path.read_bytes())
    (tmp_path / "nested").mkdir()
    good = [tmp_path / "a.mp4", tmp_path / "nested" / "b.mp4", tmp_path / "z.mp4"]
    for path in good:
        path.write_bytes(good_path.read_bytes())
    report = WalkReport()
    read = [path for path, media in walk_media(find_media(tmp_path), report, fps=8, size=32)]
    assert sorted(read) == sorted(good)
    skipped = dict(report.skipped)
    assert set(skipped) == {str(tmp_path / name) for name in reasons if name != "missing.mp4"}
    for name, reason in reasons.items():
        if name != "missing.mp4":
            assert reason in skipped[str(tmp_path / name)]
    assert "3 read, 5 skipped" in report.summary()


def test_written_files_get_the_usual_permissions(tmp_path):

    mask = os.umask(0o022)
    try:
        path = write_video(tmp_path / "p.mp4", np.zeros((1, 16, 16, 3), dtype=np.uint8), 8)
        assert path.stat().st_mode & 0o777 == 0o644
    finally:
        os.umask(mask)


def _write_with_pyav(path, container_format: str, frames: int, audio_seconds: float, channels: int = 1) -> None:
    """A moving gradient at 8 fps and a 440 Hz tone of amplitude 0.25 on every channel, written
    straight with PyAV so the container's own conventions (interleaving, durations) apply."""
    layout = "mono" if channels == 1 else "stereo"
    with av.open(str(path), "w", format=container_format) as container:
        video = container.add_stream("libx264", rate=8)
        video.width, video.height, video.pix_fmt = 64, 64, "yuv420p"
        sound = container.add_stream("aac", rate=16_000)
        sound.layout = layout
        for index in range(frames):
            image = np.zeros((64, 64, 3), np.uint8)
            image[:, :, 0] = (np.arange(64) * 4 + index * 5) % 256
            image[:, :, 1] = index * 6
            container.mux(video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(video.encode())
        tone = 0.25 * np.sin(2 * np.pi * 440 * np.arange(int(audio_seconds * 16_000)) / 16_000)
        interleaved = np.repeat(tone[:, None], channels, axis=1).reshape(1, -1).astype(np.float32)
        chunk = av.AudioFrame.from_ndarray(interleaved, format="flt", layout=layout)
        chunk.sample_rate, chunk.pts = 16_000, 0
        container.mux(sound.encode(chunk))
        container.mux(sound.encode())


def test_time_counts_from_the_first_video_frame(tmp_path):
    """MPEG-TS starts its clock late; frames and audio must line up as in the mp4 it came from."""
    _write_with_pyav(tmp_path / "a.mp4", "mp4", frames=16, audio_seconds=2.0)
    with av.open(str(tmp_path / "a.mp4")) as source, av.open(str(tmp_path / "a.ts"), "w", format="mpegts") as target:
        streams = {stream.index: target.add_stream_from_template(stream) for stream in source.streams}
        for packet in source.demux():
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                target.mux(packet)
    with av.open(str(tmp_path / "a.ts")) as probe:
        assert probe.streams.video[0].start_time > 0
    mp4, ts = read_video(tmp_path / "a.mp4", fps=8), read_video(tmp_path / "a.ts", fps=8)
    assert ts.video.shape == mp4.video.shape == (3, 16, 64, 64)
    torch.testing.assert_close(ts.video, mp4.video)
    torch.testing.assert_close(ts.audio, mp4.audio)


def test_stereo_is_averaged_to_mono_at_the_same_level(tmp_path):
    _write_with_pyav(tmp_path / "stereo.mp4", "mp4", frames=16, audio_seconds=2.0, channels=2)
    audio = read_video(tmp_path / "stereo.mp4").audio.numpy()
    assert np.abs(audio[4_000:28_000]).max() == pytest.approx(0.25, abs=0.01)


def test_audio_longer_than_video_is_not_truncation_but_a_cut_file_is(tmp_path):
    _write_with_pyav(tmp_path / "long_audio.mkv", "matroska", frames=16, audio_seconds=3.0)
    media = read_video(tmp_path / "long_audio.mkv")
    assert media.video.shape[1] == 16 and media.audio.shape == (32_000,)
    _write_with_pyav(tmp_path / "full.mkv", "matroska", frames=40, audio_seconds=5.0)
    data = (tmp_path / "full.mkv").read_bytes()
    (tmp_path / "cut.mkv").write_bytes(data[: len(data) * 8 // 10])
    with pytest.raises(MediaError, match="truncated"):
        read_video(tmp_path / "cut.mkv")


def test_non_integer_frame_rate_ratios(tmp_path):
    frames = np.zeros((30, 32, 32, 3), dtype=np.uint8)
    frames[:] = (np.arange(30) * 8)[:, None, None, None]  # each frame's grey level is 8 x its index
    path = write_video(tmp_path / "30fps.mp4", frames, 30)
    media = read_video(path, fps=8)
    assert media.video.shape[1] == 8  # 1 s at 8 fps
    indices = np.rint((media.video.mean(dim=(0, 2, 3)).numpy() + 1) * 127.5 / 8).astype(int)
    np.testing.assert_array_equal(indices, [int(np.floor(i * 30 / 8 + 1e-9)) for i in range(8)])


@pytest.mark.parametrize("fps", [8, 12.5, 30])
def test_gif_frames_start_on_time(tmp_path, fps):
    frames = np.zeros((17, 32, 32, 3), dtype=np.uint8)
    frames[:] = (np.arange(17) * 12)[:, None, None, None]  # each frame's grey level is 12 x its index
    media = read_video(write_video(tmp_path / "t.gif", frames, fps), fps=fps)
    indices = np.rint((media.video.mean(dim=(0, 2, 3)).numpy() + 1) * 127.5 / 12).astype(int)
    np.testing.assert_array_equal(indices, np.arange(17))


def test_package_imports_without_pyav_and_media_io_then_names_it():
    """Training from Shapes World needs no PyAV (a GPU machine may lack it); media I/O says what is missing."""
    code = (
        "import sys; sys.modules['av'] = None\n"
        "import numpy as np, videopoet.cli, videopoet.train.tokenizer, videopoet.tokenizers\n"
        "from videopoet.io import write_video\n"
        "try:\n"
        "    write_video('unwritten.mp4', np.zeros((1, 8, 8, 3), np.uint8), 8)\n"
        "except ImportError as error:\n"
        "    print(error)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "needs PyAV" in run.stdout
