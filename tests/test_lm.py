"""The language model: vocabulary, task layouts, the prefix-LM mask, KV-cache equivalence,
guidance and legal-range sampling."""

import os
import stat

import numpy as np
import pytest
import torch

from videopoet.lm import (
    TASKS,
    ClipTokens,
    LMConfig,
    SamplingConfig,
    TaskExample,
    VideoPoetLM,
    Vocabulary,
    build_sequence,
    collate,
    drop_condition,
    make_example,
    sample,
)
from videopoet.lm import model as lm_model
from videopoet.lm.model import GenerationLinear, apply_rotary, prefix_lm_mask, rotary_tables
from videopoet.lm.sampling import filter_logits
from videopoet.lm.sequences import MASKED, TEXT_START
from videopoet.lm.tasks import TEXT_TASKS, audio_split

VOCAB = Vocabulary(video_codes=64, audio_codes=16, audio_levels=2)
TEXT_LENGTH, TEXT_DIM = 6, 8


def clip(seed: int = 0) -> ClipTokens:
    g = torch.Generator().manual_seed(seed)
    return ClipTokens(
        video=torch.randint(0, 64, (3, 2, 2), generator=g),
        audio=torch.randint(0, 16, (2, 9), generator=g),
        flow=torch.randint(0, 64, (3, 2, 2), generator=g),
        structure=torch.randint(0, 64, (3, 2, 2), generator=g),
    )


def tiny_model(seed: int = 0) -> VideoPoetLM:
    torch.manual_seed(seed)
    config = LMConfig(VOCAB, width=32, depth=2, heads=2, text_dim=TEXT_DIM, text_length=TEXT_LENGTH, max_length=128)
    return VideoPoetLM(config).eval()


def batch_of(task: str, rows: int = 2, seed: int = 0):
    rng = np.random.default_rng(seed)
    sequences = [build_sequence(VOCAB, make_example(task, clip(seed + row), rng), TEXT_LENGTH) for row in range(rows)]
    text = torch.randn(rows, TEXT_LENGTH, TEXT_DIM, generator=torch.Generator().manual_seed(seed))
    text_mask = torch.arange(TEXT_LENGTH)[None] < torch.tensor([3, 5, 6, 4][:rows])[:, None]
    return sequences, collate(VOCAB, sequences, text, text_mask)


def test_vocabulary_ranges_are_disjoint_and_round_trip():
    video_low, video_high = VOCAB.video_range()
    assert video_low == len(VOCAB.specials) and video_high - video_low == 64
    assert VOCAB.audio_range(0) == (video_high, video_high + 16)
    assert VOCAB.audio_range(1) == (video_high + 16, video_high + 32) and VOCAB.size == video_high + 32
    codes = torch.randint(0, 16, (2, 9))
    assert torch.equal(VOCAB.audio_codes_of(VOCAB.audio_tokens(codes)), codes)
    assert Vocabulary.from_dict(VOCAB.to_dict()) == VOCAB
    with pytest.raises(ValueError, match="video codes must lie in"):
        VOCAB.video_tokens(torch.tensor([64]))
    with pytest.raises(ValueError, match="audio token"):
        VOCAB.audio_codes_of(VOCAB.audio_tokens(codes).flip(0))  # level 1's ids read as level 0
    with pytest.raises(KeyError, match="unknown task"):
        VOCAB.task_token("dance")


@pytest.mark.parametrize("task", TASKS)
def test_every_task_layout(task):
    example = make_example(task, clip(), np.random.default_rng(1))
    sequence = build_sequence(VOCAB, example, TEXT_LENGTH)
    tokens = sequence.tokens
    assert tokens[0] == VOCAB.task_token(task)
    # every token lies in its position's legal range
    assert bool(((tokens >= sequence.legal_low) & (tokens < sequence.legal_high)).all())
    # the prefix ends with the first output marker, and the loss covers exactly what follows it
    first_output = VOCAB.special("<bov_o>") if example.output_video is not None else VOCAB.special("<boa_o>")
    assert tokens[sequence.prefix_length - 1] == first_output
    assert not sequence.loss_mask[: sequence.prefix_length].any() and sequence.loss_mask[sequence.prefix_length :].all()
    # conditioning codes sit in the prefix only; the text slot exists exactly for text tasks
    assert not sequence.condition_mask[sequence.prefix_length :].any()
    assert (sequence.text_length > 0) == (task in TEXT_TASKS)
    if sequence.text_length:
        assert (tokens[TEXT_START : TEXT_START + TEXT_LENGTH] == VOCAB.special("<text>")).all()
    outputs = tokens[sequence.loss_mask]
    expected = (example.output_video.numel() + 2 if example.output_video is not None else 0) + (
        example.output_audio.numel() + 2 if example.output_audio is not None else 0
    )
    assert len(outputs) == expected - 1  # the first output marker belongs to the prefix
    assert outputs[-1] in (VOCAB.special("<eov_o>"), VOCAB.special("<eoa_o>"))


def test_task_recipes_cut_the_clip_consistently():
    c = clip()
    rng = np.random.default_rng(0)
    example = make_example("image_to_video", c, rng)
    assert torch.equal(torch.cat([example.condition_videos[0], example.output_video]), c.video)
    example = make_example("audio_video_continuation", c, rng)
    assert torch.equal(torch.cat([example.condition_videos[0], example.output_video]), c.video)
    assert torch.equal(torch.cat([example.condition_audio, example.output_audio], dim=1), c.audio)
    inpaint = make_example("inpainting", c, rng).condition_videos[0]
    outpaint = make_example("outpainting", c, rng).condition_videos[0]
    for masked in (inpaint, outpaint):
        kept = masked != MASKED
        assert 0 < int(kept.sum()) < masked.numel() and torch.equal(masked[kept], c.video[kept])
    sequence = build_sequence(VOCAB, make_example("inpainting", c, np.random.default_rng(3)), TEXT_LENGTH)
    assert (sequence.tokens[: sequence.prefix_length] == VOCAB.special("<mask>")).any()
    assert audio_split(1, 5, 107) == round(107 / 17) and audio_split(5, 5, 107) == 107
    with pytest.raises(ValueError, match="flow and structure"):
        make_example("stylization", ClipTokens(c.video, c.audio), rng)
    with pytest.raises(ValueError, match="needs an output"):
        TaskExample("text_to_video", True)


def test_prefix_lm_mask():
    key_valid = torch.tensor([[True, True, False, True, True, True, False]])
    mask = prefix_lm_mask(torch.tensor([4]), key_valid)[0, 0]
    for query in range(7):
        for key in range(7):
            expected = (key <= query or key < 4) and bool(key_valid[0, key])
            expected = expected or key == query
            assert bool(mask[query, key]) == expected, (query, key)


def test_prefix_is_bidirectional_and_outputs_causal():
    model = tiny_model()
    sequences, batch = batch_of("image_to_video", rows=1)
    prefix = sequences[0].prefix_length
    logits = model(batch.tokens, batch.prefix_lengths, batch.key_valid, batch.text, batch.has_text)
    changed = batch.tokens.clone()
    changed[0, -2] = VOCAB.video_range()[0] + (int(changed[0, -2]) - VOCAB.video_range()[0] + 1) % 64
    after = model(changed, batch.prefix_lengths, batch.key_valid, batch.text, batch.has_text)
    # an output token changes nothing before it
    torch.testing.assert_close(after[0, :-2], logits[0, :-2])
    # a late prefix token changes earlier prefix positions (bidirectional)
    changed = batch.tokens.clone()
    changed[0, prefix - 3] = VOCAB.video_range()[0] + (int(changed[0, prefix - 3]) - VOCAB.video_range()[0] + 1) % 64
    after = model(changed, batch.prefix_lengths, batch.key_valid, batch.text, batch.has_text)
    assert not torch.allclose(after[0, 1], logits[0, 1])


def test_masked_text_positions_do_not_matter():
    model = tiny_model()
    _, batch = batch_of("text_to_video", rows=1)
    logits = model(batch.tokens, batch.prefix_lengths, batch.key_valid, batch.text, batch.has_text)
    noisy = batch.text.clone()
    noisy[0, 3:] = 100.0  # past the prompt's 3 tokens
    after = model(batch.tokens, batch.prefix_lengths, batch.key_valid, noisy, batch.has_text)
    valid = batch.key_valid[0]
    torch.testing.assert_close(after[0, valid], logits[0, valid])


def assert_cached_decode_equals_full_forward(task: str, device: str = "cpu", atol: float = 1e-5, rtol: float = 1e-4) -> None:
    """Prefill + one decode step per position gives the full forward's logits (also used on CUDA)."""
    model = tiny_model().to(device)
    sequences, batch = batch_of(task, rows=2)
    batch = batch.to(device)
    prefix, length = sequences[0].prefix_length, len(sequences[0])
    full = model(batch.tokens, batch.prefix_lengths, batch.key_valid, batch.text, batch.has_text)
    model.setup_cache(2, length)
    step_logits = [model.prefill(batch.tokens[:, :prefix], batch.key_valid[:, :prefix], batch.text, batch.has_text)]
    for position in range(prefix, length - 1):
        step_logits.append(model.decode_step(batch.tokens[:, position], position))
    model.clear_cache()
    torch.testing.assert_close(torch.stack(step_logits, dim=1), full[:, prefix - 1 : length - 1], atol=atol, rtol=rtol)


@pytest.mark.parametrize("task", ["text_to_video", "audio_video_continuation", "inpainting"])
def test_cached_decode_equals_full_forward(task):
    assert_cached_decode_equals_full_forward(task)


def test_a_decode_step_over_a_vocabulary_range_gives_those_logits_of_the_full_step():
    model = tiny_model()
    sequences, batch = batch_of("video_to_audio")
    prefix = sequences[0].prefix_length
    model.setup_cache(2, len(sequences[0]))
    model.prefill(batch.tokens[:, :prefix], batch.key_valid[:, :prefix], batch.text, batch.has_text)
    token = batch.tokens[:, prefix]
    full = model.decode_step(token, prefix)
    low, high = VOCAB.audio_range(1)
    model.clear_cache()
    model.setup_cache(2, len(sequences[0]))
    model.prefill(batch.tokens[:, :prefix], batch.key_valid[:, :prefix], batch.text, batch.has_text)
    ranged = model.decode_step(token, prefix, (low, high))
    model.clear_cache()
    assert ranged.shape == (2, VOCAB.audio_codes)
    torch.testing.assert_close(ranged, full[:, low:high], rtol=0, atol=1e-6)


def test_decode_step_refuses_a_missing_cache_a_position_past_it_and_a_bad_vocabulary_range():
    model = tiny_model()
    sequences, batch = batch_of("video_to_audio")
    prefix = sequences[0].prefix_length
    token = batch.tokens[:, prefix]
    with pytest.raises(RuntimeError, match="needs a cache"):
        model.decode_step(token, prefix)
    model.setup_cache(2, len(sequences[0]))
    model.prefill(batch.tokens[:, :prefix], batch.key_valid[:, :prefix], batch.text, batch.has_text)
    with pytest.raises(ValueError, match="outside the cache"):
        model.decode_step(token, len(sequences[0]))
    size = model.config.vocabulary.size
    for bad in [(5, 5), (-1, 10), (0, size + 1)]:
        with pytest.raises(ValueError, match="vocabulary_range"):
            model.decode_step(token, prefix, bad)
    assert model.decode_step(token, prefix, (0, size)).shape == (2, size)


def test_rotary_turns_each_pair_by_its_position_angle():
    """The (2i, 2i+1) pair of a head at position p turns by p * base^(-2i/K), as a complex number."""
    positions, head_size, base = 7, 8, 100.0
    x = torch.randn(2, 3, positions, head_size)
    cos, sin = rotary_tables(positions, head_size, base)
    angles = torch.arange(positions)[:, None] * base ** (-torch.arange(0, head_size, 2) / head_size)
    pairs = torch.view_as_complex(x.reshape(2, 3, positions, head_size // 2, 2).contiguous())
    expected = torch.view_as_real(pairs * torch.polar(torch.ones_like(angles), angles)).reshape(x.shape)
    torch.testing.assert_close(apply_rotary(x, cos, sin), expected)


def test_generation_linear_with_its_transposed_weight_gives_the_same_outputs():
    torch.manual_seed(0)
    layer, x = GenerationLinear(16, 24), torch.randn(2, 3, 16)
    plain, plain_part = layer(x), layer(x, (5, 9))
    torch.testing.assert_close(plain_part, plain[..., 5:9])
    layer.hold_transposed(True)
    torch.testing.assert_close(layer(x), plain)
    torch.testing.assert_close(layer(x, (5, 9)), plain[..., 5:9])
    layer.hold_transposed(False)
    assert layer.transposed is None and torch.equal(layer(x), plain)


def test_cached_attention_over_whole_key_blocks_is_exact(monkeypatch):
    """Past KEY_BLOCK positions the cache is read only up to the next block boundary: the logits
    are bit for bit those over the whole (masked) cache, and match the full forward."""
    torch.manual_seed(0)
    config = LMConfig(VOCAB, width=32, depth=2, heads=2, text_dim=TEXT_DIM, text_length=TEXT_LENGTH, max_length=256)
    model = VideoPoetLM(config).eval()
    prefix, length = 9, 2 * lm_model.KEY_BLOCK + 11
    tokens = torch.randint(0, VOCAB.size, (2, length))
    valid = torch.ones(2, length, dtype=torch.bool)

    def decoded(key_block: int) -> torch.Tensor:
        monkeypatch.setattr(lm_model, "KEY_BLOCK", key_block)
        model.setup_cache(2, config.max_length)
        steps = [model.prefill(tokens[:, :prefix], valid[:, :prefix])]
        steps += [model.decode_step(tokens[:, position], position) for position in range(prefix, length - 1)]
        model.clear_cache()
        return torch.stack(steps, dim=1)

    blocked, whole = decoded(lm_model.KEY_BLOCK), decoded(config.max_length)
    assert torch.equal(blocked, whole)
    full = model(tokens, torch.full((2,), prefix), valid)
    torch.testing.assert_close(blocked, full[:, prefix - 1 : length - 1], atol=1e-5, rtol=1e-4)


def test_drop_condition():
    _, batch = batch_of("text_to_video")
    dropped = drop_condition(VOCAB, batch)
    assert not dropped.key_valid[:, TEXT_START : TEXT_START + TEXT_LENGTH].any() and (dropped.text == 0).all()
    assert torch.equal(dropped.tokens, batch.tokens)
    _, batch = batch_of("video_to_audio")
    dropped = drop_condition(VOCAB, batch, rows=torch.tensor([True, False]))
    assert (dropped.tokens[0][batch.condition_mask[0]] == VOCAB.special("<mask>")).all()
    assert torch.equal(dropped.tokens[1], batch.tokens[1])


@pytest.mark.parametrize("task", ["text_to_video", "video_to_audio", "audio_video_continuation"])
def test_sampling_stays_in_legal_ranges(task):
    model = tiny_model()
    sequences, batch = batch_of(task)
    layout = sequences[0]
    tokens = sample(model, batch, layout, SamplingConfig(temperature=1.5, seed=0, guidance_scale=3.0))
    prefix = layout.prefix_length
    assert torch.equal(tokens[:, :prefix], batch.tokens[:, :prefix])
    assert bool(((tokens >= layout.legal_low) & (tokens < layout.legal_high))[:, prefix:].all())


def test_guidance_scale_one_is_the_conditional_model_and_seeds_reproduce():
    model = tiny_model()
    sequences, batch = batch_of("text_to_video")
    plain = sample(model, batch, sequences[0], SamplingConfig(seed=7))
    guided = sample(model, batch, sequences[0], SamplingConfig(seed=7, guidance_scale=1.0))
    assert torch.equal(plain, guided)
    assert torch.equal(plain, sample(model, batch, sequences[0], SamplingConfig(seed=7)))
    assert not torch.equal(plain, sample(model, batch, sequences[0], SamplingConfig(seed=8)))
    strong = sample(model, batch, sequences[0], SamplingConfig(seed=7, guidance_scale=5.0))
    assert not torch.equal(plain, strong)


def test_greedy_sampling_follows_the_full_forward_argmax():
    model = tiny_model()
    sequences, batch = batch_of("text_to_image", rows=1)
    tokens = sample(model, batch, sequences[0], SamplingConfig(temperature=0))
    logits = model(tokens, batch.prefix_lengths, batch.key_valid, batch.text, batch.has_text)
    layout = sequences[0]
    for position in range(layout.prefix_length, len(layout) - 1):
        low, high = int(layout.legal_low[position]), int(layout.legal_high[position])
        assert int(tokens[0, position]) == low + int(logits[0, position - 1, low:high].argmax())


def test_filter_logits():
    logits = torch.tensor([[4.0, 3.0, 2.0, 1.0]])
    assert torch.isinf(filter_logits(logits, 2, None)[0, 2:]).all() and torch.isfinite(filter_logits(logits, 2, None)[0, :2]).all()
    nucleus = filter_logits(logits, None, 0.5)  # softmax: .64, .24, ...: the first token alone crosses 0.5
    assert torch.isfinite(nucleus[0, 0]) and torch.isinf(nucleus[0, 1:]).all()
    with pytest.raises(ValueError, match="top_p"):
        SamplingConfig(top_p=0)


def test_sampling_config_refuses_settings_that_are_not_finite_and_a_negative_guidance():
    for bad in [{"temperature": float("nan")}, {"top_p": float("inf")}, {"guidance_scale": float("nan")}, {"temperature": "hot"}]:
        with pytest.raises(ValueError, match="not a finite number"):
            SamplingConfig(**bad)
    with pytest.raises(ValueError, match="guidance_scale=-1.0: must be >= 0"):
        SamplingConfig(guidance_scale=-1.0)
    assert SamplingConfig(temperature=0, guidance_scale=0.0).guidance_scale == 0.0


def test_sequence_longer_than_the_model_is_refused():
    model = tiny_model()
    tokens = torch.zeros(1, 129, dtype=torch.long)
    with pytest.raises(ValueError, match="max_length=128"):
        model(tokens, torch.tensor([1]), torch.ones(1, 129, dtype=torch.bool))


def test_save_and_load(tmp_path):
    model = tiny_model()
    model.save_pretrained(tmp_path / "lm")
    loaded = VideoPoetLM.from_pretrained(tmp_path / "lm")
    assert loaded.config.vocabulary == VOCAB
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name


def test_a_saved_checkpoint_has_the_usual_modes(tmp_path):
    """Written under a temporary name (mkdtemp: 0700) but readable by others once in place."""
    old = os.umask(0o022)
    try:
        tiny_model().save_pretrained(tmp_path / "lm")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "lm").stat().st_mode) == 0o755
    assert {stat.S_IMODE(path.stat().st_mode) for path in (tmp_path / "lm").iterdir()} == {0o644}


def test_presets_reach_the_paper_sizes():
    vocab = Vocabulary(video_codes=2**18, audio_codes=1024, audio_levels=4)  # the paper's token space
    counts = {}
    for name in ("tiny", "300m", "1b", "8b"):
        with torch.device("meta"):  # shapes only, no memory
            counts[name] = VideoPoetLM(LMConfig.preset(name, vocab)).parameter_count(embeddings=False)
    assert counts["tiny"] < 2e6
    assert 0.25e9 < counts["300m"] < 0.4e9 and 0.8e9 < counts["1b"] < 1.3e9 and 7e9 < counts["8b"] < 9e9
    with pytest.raises(ValueError, match="unknown LM preset"):
        LMConfig.preset("huge", vocab)
