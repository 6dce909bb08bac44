"""Generation for every task from one object, in the manner of diffusers pipelines:

    pipe = VideoPoetPipeline.from_pretrained()            # the shipped Shapes World model
    result = pipe("a large red circle moving left")       # text-to-video, with its soundtrack
    export_to_video(result, "out.mp4")

A pipeline directory holds one checkpoint directory per part: `video_tokenizer/`,
`audio_tokenizer/` and `lm/`. The LM's config records the clips it was trained on (size, frames,
text encoder), and that fixes the pipeline's clip: `frames` frames at 8 fps, `size` x `size`
pixels, 16 kHz mono audio. Every task is one pass of the LM over that clip's tokens; longer
results are made of passes:

- long video and `continue_video`: the last 5 frames are encoded again as the start of a clip
  (the causal tokenizer's first latent frame is a single image, so tokens from the middle of a
  clip cannot simply be moved to its start) and frame continuation generates the rest of that
  clip; each pass adds 12 frames (1.5 s);
- story: each prompt after the first continues from the previous segment's last frame by
  image-to-video with the new prompt, so the objects carry over and the motion follows the text;
- soundtracks: video-to-audio over consecutive clip-length windows of the video.

Stage k of a result is sampled with seed `seed + k`, so the same seed gives the same result.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .io.errors import MediaError
from .io.read import read_audio, read_video, resize_and_crop
from .io.write import from_uint8_frames, to_uint8_frames, write_video
from .lm import SamplingConfig, TaskExample, VideoPoetLM, build_sequence, collate, output_codes, sample
from .lm.sequences import MASKED
from .pretrained import DEFAULT_MODEL, model_part
from .tokenizers import AudioTokenizer, VideoTokenizer
from .world.spec import FPS, SAMPLE_RATE

PARTS = ("video_tokenizer", "audio_tokenizer", "lm")
CONTEXT_LATENT_FRAMES = 2  # latent frames a continuation pass starts from (5 frames)
PROMPT_REQUIRED = frozenset({"text_to_video", "text_to_image", "image_to_video", "stylization"})

ImageInput = str | os.PathLike | np.ndarray | torch.Tensor
VideoInput = str | os.PathLike | np.ndarray | torch.Tensor
AudioInput = str | os.PathLike | np.ndarray | torch.Tensor


@dataclass
class GenerationResult:
    """frames: (T, H, W, 3) uint8 RGB; audio: (N,) float32 mono in [-1, 1] at `sample_rate`
    (N = T / fps * sample_rate), or None; `seed` reproduces the result."""

    frames: np.ndarray
    audio: np.ndarray | None
    fps: float
    sample_rate: int
    seed: int
    task: str
    prompts: tuple[str, ...] = ()

    @property
    def seconds(self) -> float:
        return self.frames.shape[0] / self.fps


def export_to_video(result: GenerationResult, path: str | os.PathLike) -> Path:
    """Write `result` to `path` (.mp4/.m4v/.mov: H.264 with AAC audio when it has audio; .gif:
    frames only), atomically: a failed write leaves nothing behind."""
    return write_video(path, result.frames, result.fps, audio=result.audio, sample_rate=result.sample_rate)


def _text_encoder_path(name: str) -> str | None:
    from .tokenizers.text import DEFAULT_ENCODER

    return None if name == DEFAULT_ENCODER else name


class VideoPoetPipeline:
    """Every task of one trained model (see the module docstring). `sampling` holds the
    defaults each call starts from (its seed is ignored: pass `seed=`); `progress` shows
    progress bars over tokens and frames."""

    def __init__(
        self,
        lm: VideoPoetLM,
        video_tokenizer: VideoTokenizer,
        audio_tokenizer: AudioTokenizer,
        text_encoder=None,
        sampling: SamplingConfig | None = None,
        progress: bool = True,
    ):
        clip = lm.config.clip
        if not clip or not {"size", "frames", "text_encoder"} <= set(clip):
            raise ValueError("the LM's config does not record the clips it was trained on (clip: size, frames, text_encoder)")
        vocab = lm.config.vocabulary
        if vocab.video_codes != video_tokenizer.codebook_size:
            raise ValueError(f"the LM has {vocab.video_codes} video codes, the video tokenizer {video_tokenizer.codebook_size}")
        audio_config = audio_tokenizer.config
        if (vocab.audio_codes, vocab.audio_levels) != (audio_config.codebook_size, audio_config.levels):
            raise ValueError(
                f"the LM has {vocab.audio_levels} x {vocab.audio_codes} audio codes, "
                f"the audio tokenizer {audio_config.levels} x {audio_config.codebook_size}"
            )
        self.lm, self.video_tokenizer, self.audio_tokenizer = lm.eval(), video_tokenizer.eval(), audio_tokenizer.eval()
        self._text_encoder = text_encoder
        self.size, self.frames = int(clip["size"]), int(clip["frames"])
        self.latent_shape = video_tokenizer.latent_shape(self.frames, self.size, self.size)  # (t, h, w)
        self.audio_samples = round(self.frames / FPS * SAMPLE_RATE)
        self.audio_frames = math.ceil(self.audio_samples / audio_config.hop)
        self.sampling = sampling or SamplingConfig(temperature=1.0, top_k=64, guidance_scale=3.0)
        self.progress = progress

    # ------------------------------------------------------------------------- loading

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike | None = None, device: str | torch.device = "cpu", **options) -> "VideoPoetPipeline":
        """Load a pipeline directory (by default the shipped Shapes World model). A missing
        part raises FileNotFoundError naming the directory and the part."""
        directory = Path(path) if path is not None else DEFAULT_MODEL
        if not directory.is_dir():
            raise FileNotFoundError(f"{directory}: no such model directory")
        for part in PARTS:
            model_part(part, directory)
        lm = VideoPoetLM.from_pretrained(model_part("lm", directory)).to(device)
        video = VideoTokenizer.from_pretrained(model_part("video_tokenizer", directory)).to(device)
        audio = AudioTokenizer.from_pretrained(model_part("audio_tokenizer", directory)).to(device)
        return cls(lm, video, audio, **options)

    @property
    def device(self) -> torch.device:
        return next(self.lm.parameters()).device

    @property
    def text_encoder(self):
        """The frozen text encoder the LM was trained with, loaded on first use."""
        if self._text_encoder is None:
            from .tokenizers.text import TextEncoder

            self._text_encoder = TextEncoder(_text_encoder_path(self.lm.config.clip["text_encoder"]), max_tokens=self.lm.config.text_length, device=self.device)
        return self._text_encoder

    # ------------------------------------------------------------------------- tasks

    def __call__(self, prompt: str, **options) -> GenerationResult:
        """Text-to-video; see `text_to_video`."""
        return self.text_to_video(prompt, **options)

    def text_to_video(self, prompt: str, audio: bool = True, seed: int | None = None, sampling: SamplingConfig | None = None) -> GenerationResult:
        """A clip for `prompt` (objects, motions and the camera, e.g. "the camera pans left")."""
        seed = _seed(seed)
        codes, _ = self._run("text_to_video", seed, sampling, prompt, output_video=self.latent_shape)
        frames = self._decode(codes)
        return self._result("text_to_video", frames, audio, seed, sampling, (prompt,), codes)

    def text_to_image(self, prompt: str, seed: int | None = None, sampling: SamplingConfig | None = None) -> GenerationResult:
        """One frame for `prompt`: frames (1, size, size, 3)."""
        seed = _seed(seed)
        codes, _ = self._run("text_to_image", seed, sampling, prompt, output_video=(1, *self.latent_shape[1:]))
        return GenerationResult(self._decode(codes), None, FPS, SAMPLE_RATE, seed, "text_to_image", (prompt,))

    def image_to_video(
        self, image: ImageInput, prompt: str, audio: bool = True, seed: int | None = None, sampling: SamplingConfig | None = None
    ) -> GenerationResult:
        """A clip that starts from `image` (a file, (H, W, 3) uint8 or (3, H, W) in [-1, 1];
        scaled to cover the clip's size and centre-cropped) and moves as `prompt` says."""
        seed = _seed(seed)
        first = self._encode(self._image(image)[:, None])
        rest, _ = self._run("image_to_video", seed, sampling, prompt, [first], output_video=(self.latent_shape[0] - 1, *self.latent_shape[1:]))
        codes = torch.cat([first, rest])
        return self._result("image_to_video", self._decode(codes), audio, seed, sampling, (prompt,), codes)

    def continue_video(
        self, video: VideoInput, seconds: float = 1.5, audio: bool = True, seed: int | None = None, sampling: SamplingConfig | None = None
    ) -> GenerationResult:
        """`video` (at least 5 frames; a file is read at 8 fps) followed by `seconds` more."""
        seed = _seed(seed)
        frames = to_uint8_frames(self._video(video, exact=False))
        if frames.shape[0] < self._context_frames:
            raise ValueError(f"video of {frames.shape[0]} frames: continuation needs at least {self._context_frames}")
        extended = self._extend(frames, frames.shape[0] + _frame_count(seconds, "seconds"), seed, sampling)
        return self._result("frame_continuation", extended, audio, seed, sampling)

    def long_video(
        self, prompt: str, seconds: float = 10.0, audio: bool = True, seed: int | None = None, sampling: SamplingConfig | None = None
    ) -> GenerationResult:
        """`seconds` of video for `prompt`: a text-to-video clip, then continuation passes."""
        seed = _seed(seed)
        total = _frame_count(seconds, "seconds")
        codes, _ = self._run("text_to_video", seed, sampling, prompt, output_video=self.latent_shape)
        frames = self._extend(self._decode(codes), total, seed + 1, sampling)[:total]
        return self._result("long_video", frames, audio, seed, sampling, (prompt,))

    def story(self, prompts: Sequence[str], audio: bool = True, seed: int | None = None, sampling: SamplingConfig | None = None) -> GenerationResult:
        """One segment per prompt: text-to-video for the first, then image-to-video from the
        previous segment's last frame with each next prompt (the objects carry over)."""
        prompts = list(prompts)
        if not prompts:
            raise ValueError("story: needs at least one prompt")
        seed = _seed(seed)
        segments = tqdm(prompts, desc="story", unit="segment", disable=not self.progress)
        frames = None
        for index, prompt in enumerate(segments):
            if frames is None:
                codes, _ = self._run("text_to_video", seed, sampling, prompt, output_video=self.latent_shape)
                frames = self._decode(codes)
                continue
            first = self._encode(from_uint8_frames(frames[-1:]).to(self.device))
            rest, _ = self._run("image_to_video", seed + index, sampling, prompt, [first], output_video=(self.latent_shape[0] - 1, *self.latent_shape[1:]))
            frames = np.concatenate([frames, self._decode(torch.cat([first, rest]))[1:]])
        return self._result("story", frames, audio, seed, sampling, tuple(prompts))

    def inpaint(
        self, video: VideoInput, mask: ImageInput, prompt: str = "", audio: bool = True, seed: int | None = None, sampling: SamplingConfig | None = None
    ) -> GenerationResult:
        """Regenerate the masked part of a clip-length `video`. mask: True (or white, in an image
        file) where to fill; (H, W) for every frame or (T, H, W). The rest keeps `video`'s pixels."""
        source = self._video(video)
        return self._fill("inpainting", source, self._mask(mask), prompt, audio, seed, sampling)

    def outpaint(
        self, video: VideoInput, border: int, prompt: str = "", audio: bool = True, seed: int | None = None, sampling: SamplingConfig | None = None
    ) -> GenerationResult:
        """Regenerate everything within `border` pixels of the picture's edges."""
        if not 0 < border < self.size / 2:
            raise ValueError(f"border={border}: must be between 1 and {self.size // 2 - 1} pixels for {self.size}x{self.size} clips")
        mask = np.ones((self.size, self.size), dtype=bool)
        mask[border:-border, border:-border] = False
        return self._fill("outpainting", self._video(video), torch.from_numpy(mask), prompt, audio, seed, sampling)

    def stylize(
        self, video: VideoInput, prompt: str, audio: bool = True, seed: int | None = None, sampling: SamplingConfig | None = None
    ) -> GenerationResult:
        """A new clip with `video`'s motion and layout (its optical flow and edge map) and the
        look `prompt` describes."""
        from .data.structure import optical_flow_video, structure_video

        seed = _seed(seed)
        frames = to_uint8_frames(self._video(video))
        conditions = [self._encode(from_uint8_frames(structure).to(self.device)) for structure in (optical_flow_video(frames), structure_video(frames))]
        codes, _ = self._run("stylization", seed, sampling, prompt, conditions, output_video=self.latent_shape)
        return self._result("stylization", self._decode(codes), audio, seed, sampling, (prompt,), codes)

    def video_to_audio(self, video: VideoInput, seed: int | None = None, sampling: SamplingConfig | None = None) -> GenerationResult:
        """A soundtrack for `video` (any number of frames; a file is read at 8 fps)."""
        seed = _seed(seed)
        frames = to_uint8_frames(self._video(video, exact=False))
        return GenerationResult(frames, self._soundtrack(frames, seed, sampling), FPS, SAMPLE_RATE, seed, "video_to_audio")

    def audio_to_video(self, audio: AudioInput, seed: int | None = None, sampling: SamplingConfig | None = None) -> GenerationResult:
        """A clip for a soundtrack of at least the clip's length (16 kHz mono; a file's first
        audio track; longer sound is cut to the clip)."""
        seed = _seed(seed)
        wave = self._audio(audio)
        codes = self.audio_tokenizer.encode(wave[None].to(self.device))[0, :, : self.audio_frames]
        video, _ = self._run("audio_to_video", seed, sampling, None, condition_audio=codes, output_video=self.latent_shape)
        return GenerationResult(self._decode(video), wave.numpy(), FPS, SAMPLE_RATE, seed, "audio_to_video")

    # ------------------------------------------------------------------------- passes

    @property
    def _context_frames(self) -> int:
        return 1 + self.video_tokenizer.config.temporal_factor * (CONTEXT_LATENT_FRAMES - 1)

    def _run(
        self,
        task: str,
        seed: int,
        sampling: SamplingConfig | None,
        prompt: str | None = None,
        condition_videos: Sequence[torch.Tensor] = (),
        condition_audio: torch.Tensor | None = None,
        output_video: tuple[int, ...] | None = None,
        output_audio: tuple[int, ...] | None = None,
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """One LM pass: the codes it samples for `task` (video (t, h, w), audio (levels, frames))."""
        text = prompt is not None
        if text and not isinstance(prompt, str):
            raise TypeError(f"{task}: prompt must be a string, got {type(prompt).__name__}")
        if task in PROMPT_REQUIRED and not (prompt or "").strip():
            raise ValueError(f"{task}: the prompt is empty; say what the video shows")
        example = TaskExample(
            task,
            text,
            [codes.cpu() for codes in condition_videos],
            None if condition_audio is None else condition_audio.cpu(),
            None if output_video is None else torch.zeros(output_video, dtype=torch.long),
            None if output_audio is None else torch.zeros(output_audio, dtype=torch.long),
        )
        vocab = self.lm.config.vocabulary
        layout = build_sequence(vocab, example, self.lm.config.text_length)
        if len(layout) > self.lm.config.max_length:
            raise ValueError(f"{task}: {len(layout)} tokens exceed the LM's max_length {self.lm.config.max_length}")
        if text:
            embedded = self.text_encoder([prompt])
            batch = collate(vocab, [layout], embedded.embeddings.cpu(), embedded.mask.cpu())
        else:
            batch = collate(vocab, [layout])
        config = replace(sampling or self.sampling, seed=seed)
        with tqdm(total=len(layout) - layout.prefix_length, desc=task, unit="token", disable=not self.progress, leave=False) as bar:
            tokens = sample(self.lm, batch, layout, config, progress=_advance(bar))
        return output_codes(vocab, example, layout, tokens[0].cpu())

    def _extend(self, frames: np.ndarray, total: int, seed: int, sampling: SamplingConfig | None) -> np.ndarray:
        """`frames` (T, H, W, 3) continued pass by pass until there are at least `total`."""
        context = self._context_frames
        new_per_pass = self.frames - context
        passes = max(0, math.ceil((total - frames.shape[0]) / new_per_pass))
        bar = tqdm(total=passes * new_per_pass, desc="continuation", unit="frame", disable=not self.progress or passes == 0)
        for index in range(passes):
            start = self._encode(from_uint8_frames(frames[-context:]).to(self.device))
            rest, _ = self._run(
                "frame_continuation", seed + index, sampling, None, [start],
                output_video=(self.latent_shape[0] - CONTEXT_LATENT_FRAMES, *self.latent_shape[1:]),
            )  # fmt: skip
            frames = np.concatenate([frames, self._decode(torch.cat([start, rest]))[context:]])
            bar.update(new_per_pass)
        bar.close()
        return frames

    def _fill(
        self, task: str, source: torch.Tensor, mask: torch.Tensor, prompt: str, audio: bool, seed: int | None, sampling: SamplingConfig | None
    ) -> GenerationResult:
        """Inpainting / outpainting of `source` (3, T, H, W) where `mask` ((H, W) or (T, H, W)) is True."""
        seed = _seed(seed)
        mask = mask.expand(self.frames, self.size, self.size) if mask.dim() == 2 else mask
        if tuple(mask.shape) != (self.frames, self.size, self.size):
            raise ValueError(f"mask of shape {tuple(mask.shape)}: expected ({self.size}, {self.size}) or ({self.frames}, {self.size}, {self.size})")
        if not bool(mask.any()):
            raise ValueError("the mask is empty: nothing to fill")
        codes = self._encode(source.to(self.device)).clone()
        codes[self._latent_mask(mask).to(codes.device)] = MASKED
        generated, _ = self._run(task, seed, sampling, prompt, [codes], output_video=self.latent_shape)
        frames = np.where(mask.numpy()[..., None], self._decode(generated), to_uint8_frames(source))
        return self._result(task, frames, audio, seed, sampling, (prompt,) if prompt else ())

    def _latent_mask(self, mask: torch.Tensor) -> torch.Tensor:
        """(T, H, W) pixel mask -> (t, h, w): a latent position is masked when any pixel of its
        footprint is (latent frame 0 covers frame 0, latent frame k frames 4k-3 .. 4k)."""
        time, space = self.video_tokenizer.config.temporal_factor, self.video_tokenizer.config.spatial_factor
        padded = torch.cat([mask[:1].expand(time - 1, -1, -1), mask]).float()  # frame 0 alone in its group
        pooled = torch.nn.functional.max_pool3d(padded[None, None], (time, space, space))
        return pooled[0, 0].bool()

    def _result(
        self,
        task: str,
        frames: np.ndarray,
        audio: bool,
        seed: int,
        sampling: SamplingConfig | None,
        prompts: tuple[str, ...] = (),
        codes: torch.Tensor | None = None,
    ) -> GenerationResult:
        sound = self._soundtrack(frames, seed + 1_000, sampling, codes) if audio else None
        return GenerationResult(frames, sound, FPS, SAMPLE_RATE, seed, task, prompts)

    def _soundtrack(self, frames: np.ndarray, seed: int, sampling: SamplingConfig | None, codes: torch.Tensor | None = None) -> np.ndarray:
        """(N,) audio for `frames` by video-to-audio over clip-length windows every clip - 1
        frames (the last window padded with its last frame); `codes` are frames' own codes
        when they are exactly one clip."""
        count = frames.shape[0]
        hop = self.frames - 1
        pieces = []
        for index, start in enumerate(range(0, max(count - 1, 1), hop)):
            window = frames[start : start + self.frames]
            if window.shape[0] < self.frames:
                window = np.concatenate([window, np.repeat(window[-1:], self.frames - window.shape[0], axis=0)])
            window_codes = codes if codes is not None and count == self.frames else self._encode(from_uint8_frames(window).to(self.device))
            _, audio_codes = self._run("video_to_audio", seed + index, sampling, None, [window_codes], output_audio=(self.audio_tokenizer.config.levels, self.audio_frames))
            wave = self.audio_tokenizer.decode(audio_codes[None].to(self.device))[0].float().cpu().numpy()
            pieces.append(wave[: round(hop / FPS * SAMPLE_RATE)] if start + self.frames < count else wave[: self.audio_samples])
        wave = np.concatenate(pieces)[: round(count / FPS * SAMPLE_RATE)]
        return np.clip(wave, -1.0, 1.0).astype(np.float32)

    # ------------------------------------------------------------------------- media

    @torch.no_grad()
    def _encode(self, video: torch.Tensor) -> torch.Tensor:
        """(3, T, H, W) in [-1, 1] -> (t, h, w) codes."""
        return self.video_tokenizer.encode(video[None].to(self.device, next(self.video_tokenizer.parameters()).dtype))[0].cpu()

    @torch.no_grad()
    def _decode(self, codes: torch.Tensor) -> np.ndarray:
        """(t, h, w) codes -> (T, H, W, 3) uint8 frames."""
        return to_uint8_frames(self.video_tokenizer.decode(codes[None].to(self.device))[0].float())

    def _image(self, image: ImageInput) -> torch.Tensor:
        """An image file or array -> (3, size, size) in [-1, 1]."""
        if isinstance(image, (str, os.PathLike)):
            from PIL import Image, UnidentifiedImageError

            try:
                with Image.open(image) as opened:
                    image = np.array(opened.convert("RGB"))
            except (OSError, UnidentifiedImageError) as error:
                raise MediaError(image, f"cannot be read as an image ({error})") from error
        if isinstance(image, torch.Tensor):
            if image.dim() != 3 or image.shape[0] != 3:
                raise ValueError(f"image tensor of shape {tuple(image.shape)}: expected (3, H, W) in [-1, 1]")
            image = to_uint8_frames(image[:, None])[0]
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != 3:
            raise ValueError(f"image array of shape {image.shape} and dtype {image.dtype}: expected (H, W, 3) uint8")
        return resize_and_crop(image, (self.size, self.size))

    def _video(self, video: VideoInput, exact: bool = True) -> torch.Tensor:
        """A video file or array -> (3, T, size, size) in [-1, 1]; `exact`: T must be the clip's
        frame count (a file is read for exactly that long)."""
        if isinstance(video, (str, os.PathLike)):
            duration = self.frames / FPS if exact else None
            media = read_video(video, fps=FPS, size=self.size, duration=duration, audio=False)
            result = media.video
        else:
            result = from_uint8_frames(video) if np.asarray(video).dtype == np.uint8 else torch.as_tensor(video, dtype=torch.float32)
            if result.dim() != 4 or result.shape[0] != 3:
                raise ValueError(f"video of shape {tuple(result.shape)}: expected (T, H, W, 3) uint8 or (3, T, H, W) in [-1, 1]")
            if tuple(result.shape[2:]) != (self.size, self.size):
                raise ValueError(f"video of {result.shape[3]}x{result.shape[2]} pixels: this model makes {self.size}x{self.size} clips")
        if exact and result.shape[1] != self.frames:
            raise ValueError(f"video of {result.shape[1]} frames: this task takes exactly {self.frames} ({self.frames / FPS:g} s at {FPS} fps)")
        return result

    def _mask(self, mask: ImageInput) -> torch.Tensor:
        """A mask image file (white = fill) or a bool/0-1 array (H, W) or (T, H, W)."""
        if isinstance(mask, (str, os.PathLike)):
            from PIL import Image, UnidentifiedImageError

            try:
                with Image.open(mask) as opened:
                    grey = np.array(opened.convert("L"))
            except (OSError, UnidentifiedImageError) as error:
                raise MediaError(mask, f"cannot be read as a mask image ({error})") from error
            if grey.shape != (self.size, self.size):
                raise ValueError(f"mask image {mask} is {grey.shape[1]}x{grey.shape[0]}: this model makes {self.size}x{self.size} clips")
            return torch.from_numpy(grey > 127)
        return torch.as_tensor(np.asarray(mask)).bool()

    def _audio(self, audio: AudioInput) -> torch.Tensor:
        """A sound file or (N,) array at 16 kHz -> (audio_samples,) float32, cut to the clip."""
        wave = read_audio(audio) if isinstance(audio, (str, os.PathLike)) else torch.as_tensor(np.asarray(audio, dtype=np.float32))
        if wave.dim() != 1:
            raise ValueError(f"audio of shape {tuple(wave.shape)}: expected mono samples (N,) at {SAMPLE_RATE} Hz")
        if wave.shape[0] < self.audio_samples:
            raise ValueError(f"audio of {wave.shape[0] / SAMPLE_RATE:.3f} s: this model needs {self.audio_samples / SAMPLE_RATE:g} s ({self.audio_samples} samples at {SAMPLE_RATE} Hz)")
        return wave[: self.audio_samples].clamp(-1.0, 1.0)


def _seed(seed: int | None) -> int:
    """`seed`, or a fresh random one (reported in the result so it can be reproduced)."""
    return random.SystemRandom().randrange(2**31) if seed is None else int(seed)


def _frame_count(seconds: float, name: str) -> int:
    if not seconds > 0:
        raise ValueError(f"{name}={seconds}: must be positive")
    return max(1, round(seconds * FPS))


def _advance(bar: tqdm) -> Callable[[int, int], None]:
    def update(done: int, total: int) -> None:
        bar.update(done - bar.n)

    return update
