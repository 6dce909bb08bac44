"""The tokenizing pass with the real tokenizers, and the stylization conditions."""

import numpy as np
import pytest
import torch

from videopoet.data.shards import TokenShards
from videopoet.data.structure import optical_flow_video, structure_video
from videopoet.world import render_clip
from videopoet.world.scene import Scene


def test_flow_video_shows_motion_and_structure_shows_outlines():
    clip = render_clip("train", 3, size=64)
    flow, edges = optical_flow_video(clip.video), structure_video(clip.video)
    assert flow.shape == clip.video.shape and edges.shape == clip.video.shape and flow.dtype == np.uint8
    assert (edges[..., 0] == edges[..., 1]).all()  # grey
    still = np.repeat(clip.video[:1], 5, axis=0)
    assert optical_flow_video(still).max() <= 2  # no motion: black (up to the estimator's rounding)
    # a frame shifted 2 pixels to the right: flow everywhere, edge maps shifted alike
    shifted = np.stack([clip.video[0], np.roll(clip.video[0], 2, axis=1)])
    assert optical_flow_video(shifted)[1, 16:48, 16:48].mean() > 20
    assert np.abs(structure_video(shifted)[1, :, 8:56].astype(int) - np.roll(structure_video(shifted)[0], 2, axis=1)[:, 8:56]).mean() < 2
    with pytest.raises(ValueError, match="uint8"):
        structure_video(clip.video.astype(np.float32))


def test_tokenize_command_writes_shards_that_match_the_tokenizers(tmp_path):
    from videopoet.cli import main
    from videopoet.io.write import from_uint8_frames
    from videopoet.pretrained import DEFAULT_MODEL
    from videopoet.tokenizers import AudioTokenizer, VideoTokenizer

    out = tmp_path / "tokens"
    command = ["tokenize", "--world", "train", "--n", "3", "--size", "32", "--out", str(out), "--shard-size", "2", "--device", "cpu"]
    assert main(command) == 0
    shards = TokenShards(out)
    assert len(shards) == 3 and shards.complete and shards.settings["size"] == 32
    clip = render_clip("train", 2, size=32)
    video = VideoTokenizer.from_pretrained(DEFAULT_MODEL).encode(from_uint8_frames(clip.video)[None])[0]
    assert torch.equal(shards.field(2, "video"), video) and video.shape == (5, 8, 8)
    audio = AudioTokenizer.from_pretrained().encode(torch.from_numpy(clip.audio)[None])[0]
    assert torch.equal(shards.field(2, "audio"), audio)
    assert shards.captions[2] == clip.caption and shards.field(2, "text_mask").sum() > 5
    assert main(command) == 0  # a finished folder: nothing to do
    assert main([*command[:-4], "--size", "48", *command[-4:]]) == 2  # other settings are refused, nothing lost
    assert len(TokenShards(out)) == 3


def test_tokenize_video_codes_only_skips_the_other_fields_and_lm_training_refuses_them(tmp_path, capsys):
    from videopoet.cli import main
    from videopoet.train.lm import vocabulary_of

    full, video_only = tmp_path / "full", tmp_path / "video"
    common = ["tokenize", "--world", "train", "--n", "2", "--size", "32", "--device", "cpu"]
    assert main([*common, "--out", str(full)]) == 0
    assert main([*common, "--out", str(video_only), "--fields", "video"]) == 0
    shards = TokenShards(video_only)
    assert shards.fields == ("video",) and sorted(path.name for path in (video_only / "shard-00000").glob("*.npy")) == ["text.npy", "text_mask.npy", "video.npy"]
    assert torch.equal(shards.field(1, "video"), TokenShards(full).field(1, "video"))  # the same codes
    with pytest.raises(ValueError, match="needs the audio codes; this folder holds video only"):
        shards.field(0, "audio")
    with pytest.raises(ValueError, match="task mixture needs the audio, flow, structure codes"):
        vocabulary_of(shards)
    assert main([*common, "--out", str(video_only), "--fields", "video,audio"]) == 2  # other settings: refused
    for fields, reason in (("audio", "always stored; add video"), ("video,colour", "unknown")):
        assert main([*common, "--out", str(tmp_path / "refused"), "--fields", fields]) == 2
        assert reason in capsys.readouterr().err and not (tmp_path / "refused").exists()


def test_tokenize_with_worker_processes_writes_the_same_shards(tmp_path):
    from videopoet.cli import main

    common = ["tokenize", "--world", "train", "--n", "3", "--seed-start", "5", "--size", "32", "--shard-size", "2", "--batch-size", "2", "--device", "cpu"]
    assert main([*common, "--out", str(tmp_path / "here")]) == 0
    assert main([*common, "--out", str(tmp_path / "workers"), "--workers", "2"]) == 0
    here, workers = TokenShards(tmp_path / "here"), TokenShards(tmp_path / "workers")
    assert len(workers) == 3 and workers.captions == here.captions
    for index in range(3):
        for field in ("video", "audio", "flow", "structure", "text", "text_mask"):
            assert torch.equal(workers.field(index, field), here.field(index, field)), (index, field)
    assert main([*common, "--out", str(tmp_path / "refused"), "--workers", "-1"]) == 2 and not (tmp_path / "refused").exists()
