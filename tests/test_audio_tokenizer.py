import math

import pytest
import torch

from videopoet.data.audio import ShapesWorldAudio
from videopoet.tokenizers import AudioTokenizer, AudioTokenizerConfig, ResidualVectorQuantizer
from videopoet.train import TrainConfig, Trainer
from videopoet.train.audio import AudioTokenizerTask

TINY = AudioTokenizerConfig(channels=4, strides=(2, 2, 2), latent_dim=8, residual_units=1, levels=4, codebook_size=32)


def _clustered(count: int, dim: int = 8, clusters: int = 16, seed: int = 0) -> torch.Tensor:
    """(1, dim, count) latent: points around `clusters` fixed centres (the same for every seed)."""
    centres = torch.randn(clusters, dim, generator=torch.Generator().manual_seed(1234)) * 3
    generator = torch.Generator().manual_seed(seed)
    picks = torch.randint(0, clusters, (count,), generator=generator)
    return (centres[picks] + 0.05 * torch.randn(count, dim, generator=generator)).t().unsqueeze(0)


# ----------------------------------------------------------------------------- RVQ on its own


def test_rvq_codes_decode_to_the_quantized_latent():
    quantizer = ResidualVectorQuantizer(8, levels=3, codebook_size=32, decay=0.8)
    quantizer.train()
    for step in range(20):
        quantizer(_clustered(512, seed=step), torch.Generator().manual_seed(step))
    quantizer.eval()
    latent = _clustered(64, seed=99)
    output = quantizer(latent)
    assert output.codes.shape == (1, 3, 64) and output.codes.dtype == torch.int64
    assert torch.allclose(quantizer.codes_to_latent(output.codes), output.quantized, atol=1e-5)
    assert torch.equal(quantizer.encode(latent), output.codes)
    # each level only refines: the error never grows as levels are added
    errors = [(quantizer.codes_to_latent(output.codes[:, :levels]) - latent).pow(2).mean() for levels in (1, 2, 3)]
    assert errors[0] >= errors[1] >= errors[2]
    assert errors[0] < 0.02 * latent.pow(2).mean()  # the EMA codebook found the 16 clusters


def test_rvq_restarts_dead_codes():
    quantizer = ResidualVectorQuantizer(8, levels=1, codebook_size=64, decay=0.5)
    quantizer.train()
    quantizer(_clustered(256, clusters=2), torch.Generator().manual_seed(0))  # initialised on two clusters only
    for step in range(30):
        quantizer(_clustered(256, clusters=64, seed=step + 1), torch.Generator().manual_seed(step + 1))
    codes = quantizer.encode(_clustered(2048, clusters=64, seed=1))
    assert len(torch.unique(codes)) > 32


def test_rvq_draws_are_reproducible_with_a_generator():
    def run() -> torch.Tensor:
        quantizer = ResidualVectorQuantizer(8, levels=4, codebook_size=16).train()
        return quantizer(_clustered(128), torch.Generator().manual_seed(3)).quantized

    assert torch.equal(run(), run())


def test_rvq_rejects_bad_codes_and_levels():
    quantizer = ResidualVectorQuantizer(8, levels=2, codebook_size=16)
    with pytest.raises(ValueError, match="codes must lie in"):
        quantizer.codes_to_latent(torch.full((1, 2, 3), 16))
    with pytest.raises(ValueError, match="levels=3"):
        quantizer.codes_to_latent(torch.zeros(1, 3, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="latent must be"):
        quantizer(torch.zeros(1, 7, 3))


# ----------------------------------------------------------------------------- the codec


@pytest.mark.parametrize("samples", [1, 319, 320, 321, 16_000, 34_000])
def test_any_length_in_gives_the_same_length_out_and_50_codes_per_second(samples):
    tokenizer = AudioTokenizer(AudioTokenizerConfig.preset("shapes-16k")).eval()
    wave = 0.1 * torch.randn(2, samples)
    codes = tokenizer.encode(wave)
    assert codes.shape == (2, 4, math.ceil(samples / 320))
    assert tokenizer.decode(codes, samples).shape == (2, samples)
    assert tokenizer(wave).reconstruction.shape == (2, samples)
    assert tokenizer.config.frames_per_second == 50


@pytest.mark.parametrize("preset", ["shapes-16k", "soundstream"])
def test_latent_frames_and_samples_line_up_exactly(preset):
    tokenizer = AudioTokenizer(AudioTokenizerConfig.preset(preset))
    hop = tokenizer.config.hop
    assert hop == 320
    assert tokenizer.encoder(torch.zeros(1, 1, 7 * hop)).shape == (1, tokenizer.config.latent_dim, 7)
    assert tokenizer.decoder(torch.zeros(1, tokenizer.config.latent_dim, 7)).shape == (1, 1, 7 * hop)


def test_quantizer_dropout_decodes_with_one_to_all_levels():
    tokenizer = AudioTokenizer(TINY).train()
    wave = 0.3 * torch.randn(8, 400)
    output = tokenizer(wave, torch.Generator().manual_seed(0))  # also initialises the codebooks
    tokenizer.eval()
    codes = tokenizer.encode(wave)
    for levels in range(1, 5):
        assert torch.equal(tokenizer.encode(wave, levels), codes[:, :levels])
        assert tokenizer.decode(codes[:, :levels], 400).shape == (8, 400)
    # in training, each example keeps the first k levels, k drawn per example
    tokenizer.train()
    latent = tokenizer.encoder(tokenizer._as_batch(wave))
    codebooks = tokenizer.quantizer.codebooks.clone()  # the forward below updates them
    dropped = tokenizer.quantizer(latent, torch.Generator().manual_seed(1))
    kept = []
    for example in range(8):
        partial_sums = torch.cumsum(torch.stack([codebooks[level][dropped.codes[example, level]] for level in range(4)]), dim=0)
        matches = [k + 1 for k in range(4) if torch.allclose(partial_sums[k].t(), dropped.quantized[example], atol=1e-5)]
        assert matches, f"example {example} is not a sum of its first levels' entries"
        kept.append(matches[0])
    assert len(set(kept)) > 1, kept
    assert output.reconstruction.shape == wave.shape


def test_bad_waves_and_codes_are_refused_with_reasons():
    tokenizer = AudioTokenizer(TINY).eval()
    with pytest.raises(ValueError, match="wave must be"):
        tokenizer.encode(torch.zeros(100))
    with pytest.raises(ValueError, match="wave must be"):
        tokenizer.encode(torch.zeros(1, 0))
    with pytest.raises(ValueError, match="floating point"):
        tokenizer.encode(torch.zeros(1, 100, dtype=torch.int16))
    with pytest.raises(ValueError, match="codes must lie in"):
        tokenizer.decode(torch.full((1, 4, 5), TINY.codebook_size))
    with pytest.raises(ValueError, match="length=999"):
        tokenizer.decode(torch.zeros(1, 4, 5, dtype=torch.long), 999)
    with pytest.raises(ValueError, match="unknown audio tokenizer preset"):
        AudioTokenizerConfig.preset("nope")


def test_save_and_load_round_trip(tmp_path):
    tokenizer = AudioTokenizer(TINY).train()
    tokenizer(0.3 * torch.randn(4, 400), torch.Generator().manual_seed(0))
    tokenizer.eval().save_pretrained(tmp_path / "audio")
    loaded = AudioTokenizer.from_pretrained(tmp_path / "audio")
    wave = 0.3 * torch.randn(2, 333)
    assert loaded.config == tokenizer.config
    assert torch.equal(loaded.encode(wave), tokenizer.encode(wave))
    assert torch.equal(loaded.decode(loaded.encode(wave)), tokenizer.decode(tokenizer.encode(wave)))
    with pytest.raises(FileNotFoundError, match="audio_tokenizer"):
        AudioTokenizer.from_pretrained(tmp_path)


# ----------------------------------------------------------------------------- training


def _trainer(out, steps: int, until_checkpoint: int = 2, learning_rate: float = 3e-3) -> Trainer:
    torch.manual_seed(0)
    task = AudioTokenizerTask(AudioTokenizer(TINY), ShapesWorldAudio(samples=800), seed=0)
    config = TrainConfig(steps=steps, batch_size=4, learning_rate=learning_rate, warmup_steps=2, checkpoint_every=until_checkpoint, log_every=1)
    return Trainer(task, config, out)


def test_a_few_steps_reduce_the_audio_loss(tmp_path):
    history = _trainer(tmp_path, steps=40, until_checkpoint=40).run(progress=False)
    first = sum(h["mel"] for h in history[:5]) / 5
    last = sum(h["mel"] for h in history[-5:]) / 5
    assert last < 0.8 * first, (first, last)


def test_audio_training_resumes_exactly(tmp_path):
    straight = _trainer(tmp_path / "straight", steps=6).run(progress=False)
    _trainer(tmp_path / "split", steps=6).run(progress=False, until=4)
    resumed = _trainer(tmp_path / "split", steps=6).run(progress=False)
    assert len(resumed) == 2
    for expected, actual in zip(straight[4:], resumed):
        assert actual == expected
    loaded = AudioTokenizer.from_pretrained(tmp_path / "split" / "checkpoint")
    assert loaded.encode(0.1 * torch.randn(1, 160)).shape == (1, 4, 20)
