"""Token super-resolution: windows, code factorisation, the mask schedule, parallel decoding,
guidance, the soft prediction and the two-grid decoder, odd grid sizes, bad input, training and
checkpoints."""

import pytest
import torch

from videopoet.superres import (
    AXES,
    DecodingConfig,
    SuperResConfig,
    SuperResDecoder,
    SuperResTransformer,
    augment_low_codes,
    bit_signs,
    collate_examples,
    decode,
    expected_latent,
    join_codes,
    masked_after_step,
    masked_fraction,
    masked_token_loss,
    merge_windows,
    partition_windows,
    split_codes,
    training_example,
)
from videopoet.superres.decoding import guided_log_probs
from videopoet.superres.model import WindowAttention
from videopoet.tokenizers import VideoTokenizer, VideoTokenizerConfig
from videopoet.tokenizers.lfq import LookupFreeQuantizer

TINY = dict(codebook_bits=6, factors=2, width=32, depth=3, heads=2, window=(2, 4, 4), text_dim=16, max_frames=3, max_height=10, max_width=14)


def tiny_model(seed: int = 0, **overrides) -> SuperResTransformer:
    torch.manual_seed(seed)
    return SuperResTransformer(SuperResConfig(**{**TINY, **overrides})).eval()


def random_inputs(batch: int = 2, time: int = 3, height: int = 5, width: int = 7, seed: int = 0):
    """Low codes (B, T, h, w), high codes (B, T, 2h, 2w), text (B, 4, 16) and its validity."""
    generator = torch.Generator().manual_seed(seed)
    low = torch.randint(0, 64, (batch, time, height, width), generator=generator)
    high = torch.randint(0, 64, (batch, time, 2 * height, 2 * width), generator=generator)
    text = torch.randn(batch, 4, 16, generator=generator)
    text_valid = torch.tensor([[True, True, False, False]] * batch)
    return low, high, text, text_valid


@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("size", [1, 2, 4, 16])
def test_window_partition_and_merge_round_trip_for_odd_sizes(axis, size):
    grid = torch.randn(2, 3, 5, 7, 4)
    windows, valid = partition_windows(grid, axis, size)
    length = grid.shape[1 + AXES.index(axis)]
    assert windows.shape[1:] == (size, 4) and valid.shape == windows.shape[:2]
    assert int(valid.sum()) == grid[..., 0].numel()  # every position once, padding invalid
    assert windows.shape[0] == grid[..., 0].numel() // length * -(-length // size)
    assert torch.equal(merge_windows(windows, axis, (2, 3, 5, 7)), grid)


def test_a_window_holds_consecutive_positions_along_its_axis():
    grid = torch.arange(3 * 5 * 7, dtype=torch.float32).reshape(1, 3, 5, 7, 1)  # value = t*35 + h*7 + w
    windows, valid = partition_windows(grid, "height", 2)
    first = windows[0, :, 0]  # t = 0, w = 0, h = 0..1
    assert first.tolist() == [0.0, 7.0]
    last_of_line = windows[2, :, 0]  # h = 4 and one padded position
    assert last_of_line[0].item() == 28.0 and valid[2].tolist() == [True, False]


def test_bad_window_arguments_are_named():
    with pytest.raises(ValueError, match="window axis 'depth'"):
        partition_windows(torch.zeros(1, 1, 1, 1, 1), "depth", 2)
    with pytest.raises(ValueError, match="expected \\(B, T, H, W, D\\)"):
        partition_windows(torch.zeros(1, 1, 1, 1), "time", 2)


@pytest.mark.parametrize("axis", AXES)
def test_window_attention_reads_only_its_own_window(axis):
    torch.manual_seed(0)
    attention = WindowAttention(SuperResConfig(**TINY), axis)
    grid = torch.randn(1, 3, 10, 14, 32)
    changed = grid.clone()
    changed[0, 0, 0, 0] += 1.0
    difference = (attention(changed) - attention(grid)).abs().sum(-1)[0] > 0  # (T, H, W)
    size = attention.size
    reached = torch.zeros(3, 10, 14, dtype=torch.bool)
    index = [slice(0, 1)] * 3
    index[AXES.index(axis)] = slice(0, size)
    reached[tuple(index)] = True
    assert torch.equal(difference, reached)


@pytest.mark.parametrize("bits, factors", [(12, 2), (18, 3), (6, 1)])
def test_codes_split_into_sub_codes_and_join_back(bits, factors):
    codes = torch.randint(0, 2**bits, (4, 5))
    sub = split_codes(codes, bits, factors)
    assert sub.shape == (4, 5, factors) and int(sub.max()) < 2 ** (bits // factors)
    assert torch.equal(join_codes(sub, bits), codes)
    assert split_codes(torch.tensor(2**bits - 2), bits, factors)[-1].item() == 2 ** (bits // factors) - 2


def test_the_mask_schedule_goes_from_all_to_none():
    assert masked_fraction(0.0) == 1.0 and abs(masked_fraction(1.0)) < 1e-12
    for positions, steps in [(1, 1), (4, 8), (490, 8), (5120, 12), (3, 2)]:
        counts = [positions] + [masked_after_step(positions, step, steps) for step in range(steps)]
        assert counts[-1] == 0
        for before, after in zip(counts, counts[1:]):
            assert after < before or before == 0  # each step decides at least one position


@pytest.mark.parametrize("steps", [1, 3, 8])
def test_decoding_fills_every_position_of_odd_sized_grids(steps):
    model = tiny_model()
    low, _, text, text_valid = random_inputs()
    high = decode(model, low, text, text_valid, DecodingConfig(steps=steps, seed=0))
    assert high.shape == (2, 3, 10, 14) and high.dtype == torch.long
    assert int(high.min()) >= 0 and int(high.max()) < 64


def test_decoding_is_deterministic_for_a_seed():
    model = tiny_model()
    low, _, text, text_valid = random_inputs()
    first = decode(model, low, text, text_valid, DecodingConfig(steps=4, seed=3))
    again = decode(model, low, text, text_valid, DecodingConfig(steps=4, seed=3))
    other = decode(model, low, text, text_valid, DecodingConfig(steps=4, seed=4))
    assert torch.equal(first, again) and not torch.equal(first, other)


def test_decoding_keeps_what_it_decided():
    """Greedy decoding without choice noise: one step is the model's argmax everywhere; with
    several steps, the positions the first step is most sure of keep that argmax to the end."""
    model = tiny_model()
    low, _, text, text_valid = random_inputs(batch=1)
    greedy = DecodingConfig(steps=1, temperature=0, choice_temperature=0)
    one_step = decode(model, low, text, text_valid, greedy)
    log_probs = guided_log_probs(model, torch.zeros_like(one_step), torch.ones_like(one_step, dtype=torch.bool), low, text, text_valid, greedy)
    assert torch.equal(one_step, join_codes(log_probs.argmax(-1), 6))
    four_steps = decode(model, low, text, text_valid, DecodingConfig(steps=4, temperature=0, choice_temperature=0))
    positions = one_step.numel()
    decided_first = log_probs.max(-1).values.sum(-1).flatten().topk(positions - masked_after_step(positions, 0, 4)).indices
    assert torch.equal(four_steps.flatten()[decided_first], one_step.flatten()[decided_first])
    assert not torch.equal(four_steps, one_step)  # later steps see the decided codes


def test_guidance_scale_one_is_the_conditional_model():
    model = tiny_model()
    low, high, text, text_valid = random_inputs()
    masked = torch.rand(high.shape, generator=torch.Generator().manual_seed(1)) < 0.5
    conditional = model(high, masked, low, text, text_valid).float().log_softmax(-1)
    plain = guided_log_probs(model, high, masked, low, text, text_valid, DecodingConfig())
    torch.testing.assert_close(plain, conditional)
    guided = guided_log_probs(model, high, masked, low, text, text_valid, DecodingConfig(text_guidance=3.0, low_guidance=2.0))
    without_text = model(high, masked, low, text, torch.zeros_like(text_valid)).float().log_softmax(-1)
    without_low = model(high, masked, low, text, text_valid, torch.ones(2, dtype=torch.bool)).float().log_softmax(-1)
    expected = conditional + 2.0 * (conditional - without_text) + 1.0 * (conditional - without_low)
    torch.testing.assert_close(guided, expected)


def test_the_model_reads_its_conditions():
    model = tiny_model()
    low, high, text, text_valid = random_inputs()
    masked = torch.ones_like(high, dtype=torch.bool)
    base = model(high, masked, low, text, text_valid)
    assert base.shape == (2, 3, 10, 14, 2, 8)
    assert not torch.allclose(base, model(high, masked, (low + 1) % 64, text, text_valid))
    assert not torch.allclose(base, model(high, masked, low, text + 1, text_valid))
    # text past the valid positions and high codes under the mask are not read
    changed_text = text.clone()
    changed_text[:, 2:] += 5
    torch.testing.assert_close(base, model(high, masked, low, changed_text, text_valid))
    torch.testing.assert_close(base, model((high + 7) % 64, masked, low, text, text_valid))


def test_bad_grids_and_configs_are_named():
    model = tiny_model()
    low, high, text, text_valid = random_inputs()
    masked = torch.ones_like(high, dtype=torch.bool)
    with pytest.raises(ValueError, match="must be 2x the low one"):
        model(high[:, :, :-1], masked[:, :, :-1], low, text, text_valid)
    with pytest.raises(ValueError, match="at most 3x10x14"):
        decode(model, torch.zeros(1, 3, 6, 7, dtype=torch.long), text[:1], text_valid[:1])
    with pytest.raises(ValueError, match="expected \\(B, T, h, w\\)"):
        model(high, masked, low[0], text, text_valid)
    with pytest.raises(ValueError, match="does not split into 4 equal factors"):
        SuperResConfig(codebook_bits=18, factors=4)
    with pytest.raises(ValueError, match="decoding steps 0"):
        DecodingConfig(steps=0)


def test_low_code_noise_replaces_a_bounded_share():
    low = torch.zeros(3, 8, 8, dtype=torch.long)
    assert torch.equal(augment_low_codes(low, 0.0, 64), low)
    generator = torch.Generator().manual_seed(0)
    shares = torch.tensor([(augment_low_codes(low, 0.5, 2**20, generator) != low).float().mean() for _ in range(64)])
    assert 0.15 < float(shares.mean()) < 0.35 and float(shares.max()) <= 0.6


def test_training_examples_mask_drop_and_reproduce():
    low, high, text, text_valid = random_inputs(batch=1)
    examples = [training_example(high[0], low[0], text[0], text_valid[0], 64, torch.Generator().manual_seed(seed), condition_dropout=0.5) for seed in range(200)]
    shares = torch.tensor([float(example.masked.float().mean()) for example in examples])
    assert all(bool(example.masked.any()) for example in examples)
    assert 0.5 < float(shares.mean()) < 0.8  # the cosine schedule's mean share is 2/pi
    assert 70 < sum(not bool(example.text_valid.any()) for example in examples) < 130
    assert 70 < sum(bool(example.low_dropped) for example in examples) < 130
    again = training_example(high[0], low[0], text[0], text_valid[0], 64, torch.Generator().manual_seed(7), condition_dropout=0.5)
    assert torch.equal(again.masked, examples[7].masked) and torch.equal(again.low, examples[7].low)


def test_a_few_training_steps_reduce_the_loss():
    model = tiny_model().train()
    low, _, text, text_valid = random_inputs(batch=4)
    high = (low.repeat_interleave(2, 2).repeat_interleave(2, 3) * 3) % 64  # learnable from the low grid
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for step in range(40):
        generator = torch.Generator().manual_seed(step)
        batch = collate_examples([training_example(high[row], low[row], text[row], text_valid[row], 64, generator, low_noise=0.0) for row in range(4)])
        loss = masked_token_loss(model, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert sum(losses[-5:]) / 5 < 0.6 * sum(losses[:5]) / 5


def test_save_and_load(tmp_path):
    model = tiny_model()
    model.save_pretrained(tmp_path / "superres")
    loaded = SuperResTransformer.from_pretrained(tmp_path / "superres")
    assert loaded.config == model.config
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name


def test_bit_signs_turn_certain_sub_codes_into_the_code_latent():
    """A one-hot distribution over each factor's sub-codes has the code's own LFQ latent as its
    expectation (factor 0 holds the most significant bits); a uniform one has all zeros."""
    codes = torch.arange(4096)
    signs = bit_signs(12, 2)  # (F, C, bits)
    one_hot = torch.nn.functional.one_hot(split_codes(codes, 12, 2), 64).float()  # (N, F, C)
    assert torch.equal(torch.einsum("nfc,fcd->nd", one_hot, signs), LookupFreeQuantizer(bits=12).codes_to_latent(codes[None])[0].T)
    assert torch.equal(torch.einsum("fc,fcd->d", torch.full((2, 64), 1 / 64), signs), torch.zeros(12))


def test_the_expected_latent_is_the_mean_of_the_codes_the_stage_would_sample():
    """Each bit's expected value equals the mean latent of many codes sampled in one step from the
    same prediction; it lies in [-1, 1] on the high grid of odd-sized low grids, and guidance
    changes it."""
    model = tiny_model()
    low, _, text, text_valid = random_inputs(batch=1, time=3, height=3, width=5)
    soft = expected_latent(model, low, text, text_valid)
    assert soft.shape == (1, 6, 3, 6, 10) and soft.abs().max() <= 1 + 1e-6
    log_probs = guided_log_probs(model, torch.zeros(1, 3, 6, 10, dtype=torch.long), torch.ones(1, 3, 6, 10, dtype=torch.bool), low, text, text_valid, DecodingConfig())
    generator = torch.Generator().manual_seed(0)
    draws = torch.multinomial(log_probs.exp().reshape(-1, 8), 4000, replacement=True, generator=generator)  # (positions x factors, N)
    sampled = join_codes(draws.reshape(1, 3, 6, 10, 2, 4000).movedim(-1, 0).flatten(0, 1), 6)  # (N, T, H, W)
    mean = LookupFreeQuantizer(bits=6).codes_to_latent(sampled).mean(0, keepdim=True)
    assert torch.allclose(soft, mean, atol=0.08)
    assert not torch.allclose(soft, expected_latent(model, low, text, text_valid, DecodingConfig(text_guidance=3.0)))


def tiny_tokenizer(seed: int = 0) -> VideoTokenizer:
    torch.manual_seed(seed)
    return VideoTokenizer(VideoTokenizerConfig.preset("tiny")).eval()


def test_the_decoder_starts_as_bicubic_upsampling_of_the_tokenizer_decode_of_the_low_grid():
    """From a tokenizer, the two-grid decoder is bicubic upsampling of the tokenizer's decode of
    the low grid, whatever the high latent; once training moves its detail decoder's output
    layer it reads the high latent, and the low grid's channels of that decoder once those move."""
    tokenizer = tiny_tokenizer()
    decoder = SuperResDecoder.from_tokenizer(tokenizer, scale=2).eval()
    high, other_high = torch.randint(0, 64, (2, 2, 6, 10)), torch.randint(0, 64, (2, 2, 6, 10))
    low, other_low = torch.randint(0, 64, (2, 2, 3, 5)), torch.randint(0, 64, (2, 2, 3, 5))
    latent, other_latent = tokenizer.quantizer.codes_to_latent(high), tokenizer.quantizer.codes_to_latent(other_high)
    with torch.no_grad():
        low_video = tokenizer.decoder(tokenizer.quantizer.codes_to_latent(low))  # (2, 3, 3, 6, 10)
    frames = torch.nn.functional.interpolate(low_video.transpose(1, 2).flatten(0, 1), size=(12, 20), mode="bicubic", align_corners=False)
    expected = frames.unflatten(0, (2, 3)).transpose(1, 2).clamp(-1, 1)
    assert decoder.decode(latent, low).shape == (2, 3, 3, 12, 20)
    assert torch.allclose(decoder.decode(latent, low), expected, atol=1e-5)
    assert torch.equal(decoder.decode(latent, low), decoder.decode(other_latent, low))
    with torch.no_grad():
        decoder.detail_decoder.conv_out.conv.weight.normal_(std=0.1)
    assert not torch.allclose(decoder.decode(latent, low), decoder.decode(other_latent, low))

    def detail(low_codes: torch.Tensor) -> torch.Tensor:  # the output (unclamped) less the low grid's picture
        with torch.no_grad():
            return decoder(latent, low_codes) - decoder.low_picture(decoder.low_latent(low_codes, latent))

    assert torch.allclose(detail(low), detail(other_low), atol=1e-5)
    with torch.no_grad():
        decoder.detail_decoder.conv_in.conv.weight[:, 6:].normal_()
    assert not torch.allclose(detail(low), detail(other_low), atol=1e-3)


def test_the_decoder_refuses_grids_that_do_not_match_and_round_trips(tmp_path):
    decoder = SuperResDecoder.from_tokenizer(tiny_tokenizer(), scale=2)
    with pytest.raises(ValueError, match=r"expected \(B, 6, t, 2h, 2w\)"):
        decoder(torch.zeros(1, 6, 2, 6, 10), torch.zeros(1, 2, 3, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="expected"):
        decoder(torch.zeros(1, 5, 2, 6, 10), torch.zeros(1, 2, 3, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="scale=1"):
        SuperResDecoder.from_tokenizer(tiny_tokenizer(), scale=1)
    decoder.save_pretrained(tmp_path / "decoder")
    loaded = SuperResDecoder.from_pretrained(tmp_path / "decoder")
    latent, low = torch.rand(1, 6, 2, 6, 10) * 2 - 1, torch.randint(0, 64, (1, 2, 3, 5))
    assert torch.equal(loaded.decode(latent, low), decoder.eval().decode(latent, low)) and loaded.config == decoder.config
    tiny_tokenizer().save_pretrained(tmp_path / "tokenizer")
    with pytest.raises(ValueError, match="not a 'superres_decoder' one"):
        SuperResDecoder.from_pretrained(tmp_path / "tokenizer")
