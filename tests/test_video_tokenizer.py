import pytest
import torch

from videopoet.tokenizers import LookupFreeQuantizer, VideoTokenizer, VideoTokenizerConfig, bits_to_codes, codes_to_bits


@pytest.fixture(scope="module")
def tokenizer() -> VideoTokenizer:
    torch.manual_seed(0)
    config = VideoTokenizerConfig(base_channels=8, channel_multipliers=(1, 2, 2), time_downsamples=2, blocks_per_stage=1, bits=8)
    return VideoTokenizer(config).eval()


def _video(frames: int, height: int = 32, width: int = 32, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(2, 3, frames, height, width, generator=generator) * 2 - 1


def test_changing_frame_k_changes_no_earlier_latent_frame(tokenizer):
    video = _video(17)
    latent = tokenizer.encoder(video)
    for frame in (0, 1, 4, 5, 12, 16):
        changed = video.clone()
        changed[:, :, frame] = -changed[:, :, frame]
        first_affected = -(-frame // 4)  # frame 0 -> latent 0, frames 1..4 -> latent 1, ...
        other = tokenizer.encoder(changed)
        torch.testing.assert_close(other[:, :, :first_affected], latent[:, :, :first_affected], rtol=0, atol=1e-6)
        assert not torch.allclose(other[:, :, first_affected], latent[:, :, first_affected])
        codes, other_codes = tokenizer.encode(video), tokenizer.encode(changed)
        assert torch.equal(codes[:, :first_affected], other_codes[:, :first_affected])


def test_an_image_encodes_to_the_first_latent_frame_of_its_video(tokenizer):
    video = _video(9)
    codes = tokenizer.encode(video)
    assert torch.equal(tokenizer.encode(video[:, :, :1]), codes[:, :1])
    assert torch.equal(tokenizer.encode(video[:, :, :5]), codes[:, :2])


def test_decoding_is_causal_one_latent_frame_at_a_time(tokenizer):
    codes = tokenizer.encode(_video(13))
    full = tokenizer.decode(codes)
    assert full.shape == (2, 3, 13, 32, 32)
    for latent_frames in (1, 2, 3):
        prefix = tokenizer.decode(codes[:, :latent_frames])
        torch.testing.assert_close(prefix, full[:, :, : 1 + 4 * (latent_frames - 1)], rtol=0, atol=1e-5)


@pytest.mark.parametrize("frames, height, width", [(1, 16, 16), (5, 48, 80), (9, 32, 16), (17, 64, 32)])
def test_shapes_through_encode_and_decode(tokenizer, frames, height, width):
    video = _video(frames, height, width)
    codes = tokenizer.encode(video)
    assert codes.shape == (2, 1 + (frames - 1) // 4, height // 4, width // 4) and codes.dtype == torch.int64
    assert tokenizer.latent_shape(frames, height, width) == tuple(codes.shape[1:])
    assert 0 <= codes.min() and codes.max() < tokenizer.codebook_size == 256
    decoded = tokenizer.decode(codes)
    assert decoded.shape == video.shape and decoded.abs().max() <= 1


@pytest.mark.parametrize("frames, height, width, message", [(4, 32, 32, "1 \\+ 4k"), (0, 32, 32, "1 \\+ 4k"), (5, 30, 32, "multiples of 4"), (5, 32, 2, "multiples of 4")])
def test_invalid_videos_are_refused_with_the_reason(tokenizer, frames, height, width, message):
    with pytest.raises(ValueError, match=message):
        tokenizer.encode(torch.zeros(1, 3, frames, height, width))


def test_bad_layouts_are_refused(tokenizer):
    with pytest.raises(ValueError, match="B, 3, T, H, W"):
        tokenizer.encode(torch.zeros(3, 5, 32, 32))
    with pytest.raises(ValueError, match="B, t, h, w"):
        tokenizer.decode(torch.zeros(2, 5, 8, dtype=torch.int64))
    with pytest.raises(ValueError, match="codes must lie"):
        tokenizer.decode(torch.full((1, 2, 8, 8), 256))


def test_presets_have_the_documented_shapes():
    shapes = VideoTokenizerConfig.preset("shapes-64")
    paper = VideoTokenizerConfig.preset("videopoet-128")
    assert (shapes.spatial_factor, shapes.temporal_factor, 2**shapes.bits) == (4, 4, 4096)
    assert (paper.spatial_factor, paper.temporal_factor, 2**paper.bits) == (8, 4, 2**18)
    assert VideoTokenizerConfig.from_dict(paper.to_dict()) == paper
    with pytest.raises(ValueError, match="preset"):
        VideoTokenizerConfig.preset("huge")
    with pytest.raises(ValueError, match="unknown"):
        VideoTokenizerConfig.from_dict({"bits": 8, "colour": "red"})


def test_lfq_codes_and_bits_round_trip():
    codes = torch.randint(0, 2**18, (3, 5, 16, 16))
    bits = codes_to_bits(codes, 18)
    assert bits.shape == (3, 18, 5, 16, 16) and set(bits.unique().tolist()) <= {0, 1}
    assert torch.equal(bits_to_codes(bits), codes)
    quantizer = LookupFreeQuantizer(18).eval()
    latent = torch.randn(3, 18, 5, 16, 16)
    output = quantizer(latent)
    assert torch.equal(output.quantized, torch.where(latent > 0, 1.0, -1.0))
    assert torch.equal(quantizer.codes_to_latent(output.codes), output.quantized)
    assert torch.equal(bits_to_codes(output.quantized > 0), output.codes)


def test_lfq_passes_gradients_straight_through_and_penalises_collapse():
    quantizer = LookupFreeQuantizer(4, entropy_group_bits=2).train()
    latent = torch.randn(64, 4, requires_grad=True)
    quantizer(latent).quantized.sum().backward()
    torch.testing.assert_close(latent.grad, torch.ones_like(latent))
    confident_and_diverse = codes_to_bits(torch.arange(16).repeat(4), 4).float() * 4 - 2  # every code, |z| = 2
    collapsed = torch.full((64, 4), 2.0)  # every position the same code
    assert quantizer(confident_and_diverse).entropy_loss < quantizer(collapsed).entropy_loss
    assert quantizer(collapsed).commitment_loss == pytest.approx(0.25 * 1.0)  # (2 - 1)^2, weighted
