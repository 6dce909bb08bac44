"""The CUDA paths (run only where a GPU is visible; CI has none): the LM's KV cache and sampling,
super-resolution decoding, the tokenizer against its CPU self, and training steps in bf16
autocast through the shared loop."""

import numpy as np
import pytest
import torch

from test_lm import assert_cached_decode_equals_full_forward, batch_of, tiny_model
from test_superres import random_inputs
from test_superres import tiny_model as tiny_superres
from videopoet.data.world import ShapesWorldVideos
from videopoet.lm import SamplingConfig, sample
from videopoet.superres import DecodingConfig, decode
from videopoet.tokenizers import VideoTokenizer, VideoTokenizerConfig
from videopoet.train import TrainConfig, Trainer
from videopoet.train.tokenizer import TokenizerLossConfig, TokenizerTask

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
CUDA = torch.device("cuda")


def test_lm_cached_decode_equals_full_forward_on_cuda():
    assert_cached_decode_equals_full_forward("text_to_video", device="cuda", atol=1e-4, rtol=1e-3)


def test_lm_sampling_on_cuda_is_legal_and_seeded():
    model = tiny_model().to(CUDA)
    sequences, batch = batch_of("audio_video_continuation")
    layout = sequences[0]
    config = SamplingConfig(temperature=1.5, seed=0, guidance_scale=3.0)
    tokens = sample(model, batch, layout, config)
    assert tokens.device.type == "cuda"
    legal = (tokens.cpu() >= layout.legal_low) & (tokens.cpu() < layout.legal_high)
    assert bool(legal[:, layout.prefix_length :].all())
    assert torch.equal(tokens, sample(model, batch, layout, config))


def test_superres_decoding_on_cuda_fills_every_position_and_is_seeded():
    model = tiny_superres().to(CUDA)
    low, _, text, text_valid = (tensor.to(CUDA) for tensor in random_inputs())
    first = decode(model, low, text, text_valid, DecodingConfig(steps=4, seed=3, text_guidance=2.0))
    assert first.shape == (2, 3, 10, 14) and int(first.min()) >= 0 and int(first.max()) < 64
    assert torch.equal(first, decode(model, low, text, text_valid, DecodingConfig(steps=4, seed=3, text_guidance=2.0)))


def test_tokenizer_on_cuda_matches_its_cpu_self():
    torch.manual_seed(0)
    tokenizer = VideoTokenizer(VideoTokenizerConfig.preset("tiny")).eval()
    video = torch.rand(2, 3, 5, 32, 32) * 2 - 1
    codes = tokenizer.encode(video)
    on_gpu = tokenizer.to(CUDA)
    gpu_codes = on_gpu.encode(video.to(CUDA)).cpu()
    assert (gpu_codes == codes).float().mean() > 0.99  # a latent within rounding of 0 may flip a bit
    decoded = on_gpu.decode(codes.to(CUDA)).cpu()
    # cuDNN convolutions may run in TF32 (about 3e-4 relative per product)
    torch.testing.assert_close(decoded, tokenizer.to("cpu").decode(codes), atol=5e-3, rtol=5e-3)


def test_bf16_training_steps_on_cuda_reduce_the_loss(tmp_path):
    torch.manual_seed(0)
    task = TokenizerTask(VideoTokenizer(VideoTokenizerConfig.preset("tiny")), ShapesWorldVideos(size=32, frames=5), TokenizerLossConfig(adversarial_start=10_000))
    config = TrainConfig(steps=30, batch_size=4, learning_rate=3e-3, warmup_steps=2, checkpoint_every=30, log_every=1)  # precision auto: bf16 on CUDA
    trainer = Trainer(task, config, tmp_path, device=CUDA)
    history = trainer.run(progress=False)
    assert all(np.isfinite(step["loss"]) for step in history)
    assert np.mean([step["l1"] for step in history[-5:]]) < np.mean([step["l1"] for step in history[:5]])
    assert (tmp_path / "checkpoint").is_dir()
