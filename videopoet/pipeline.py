"""Generation for every task from one object, in the manner of diffusers pipelines:

    pipe = VideoPoetPipeline.from_pretrained()            # the shipped Shapes World model
    result = pipe("a large red circle moving left")       # text-to-video, with its soundtrack
    export_to_video(result, "out.mp4")

A pipeline directory holds one checkpoint directory per part: `video_tokenizer/`,
`audio_tokenizer/` and `lm/`, and optionally `superres/` (token super-resolution, for
`upscale`) with its `superres_decoder/` (a `SuperResDecoder` trained on the stage's output:
pixels from the stage's soft prediction and the low-resolution codes). The LM's config records the clips it was trained
on (size, frames, text encoder), and that fixes the pipeline's clip: `frames` frames at 8 fps,
`size` x `size` pixels, 16 kHz mono audio. Every task is one pass of the LM over that clip's
tokens; longer results are made of passes:

- long video and `continue_video`: the last 5 frames are encoded again as the start of a clip
  (the causal tokenizer's first latent frame is a single image, so tokens from the middle of a
  clip cannot simply be moved to its start) and frame continuation generates the rest of that
  clip; each pass adds 12 frames (1.5 s);
- story: each prompt after the first continues from the previous segment's last frame by
  image-to-video with the new prompt, so the objects carry over and the motion follows the text;
- soundtracks: video-to-audio over consecutive clip-length windows of the video;
- `upscale`: each clip-length window of a result is encoded, the super-resolution stage predicts
  its token grid at the stage's scale in one pass (each code bit's expected value,
  `expected_latent`), and the stage's decoder turns that and the low-resolution codes into
  frames. A stage trained on larger clips than the LM's (a 64 -> 128 px stage beside the
  shipped 32 px LM) gets the frames resized bicubically to its input size first.

Stage k of a result is sampled with seed `seed + k`, so the same seed gives the same result.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .io.errors import MediaError
from .io.read import read_audio, read_video, resize_and_crop
from .io.write import bicubic_resize, from_uint8_frames, to_uint8_frames, write_video
from .lm import SamplingConfig, TaskExample, VideoPoetLM, build_sequence, collate, output_codes, sample
from .lm.sequences import MASKED
from .lm.vocabulary import TASKS as LM_TASKS
from .pretrained import DEFAULT_MODEL, model_part
from .superres import DecodingConfig, SuperResDecoder, SuperResTransformer, expected_latent
from .tokenizers import AudioTokenizer, VideoTokenizer
from .world.spec import FPS, SAMPLE_RATE

PARTS = ("video_tokenizer", "audio_tokenizer", "lm")
CONTEXT_LATENT_FRAMES = 2  # latent frames a continuation pass starts from (5 frames)
PROMPT_REQUIRED = frozenset({"text_to_video", "text_to_image", "image_to_video", "stylization"})

ImageInput = str | os.PathLike | np.ndarray | torch.Tensor
VideoInput = str | os.PathLike | np.ndarray | torch.Tensor
AudioInput = str | os.PathLike | np.ndarray | torch.Tensor


# Measured on the shipped model (README, "Measured: the shipped default"): guidance 4 beats 3 on
# 12 of 17 task figures (text-to-video colour 0.265 -> 0.366) and keeps the camera class above
# 0.90, which guidance 5 (at temperature 1) and more lose.
DEFAULT_SAMPLING = SamplingConfig(temperature=1.0, top_k=64, guidance_scale=4.0)
# The LM tasks that do better with other settings (same measurement, 200 clips each): at
# guidance 3 the fill tasks keep more of the true pixels (inpainting 21.1 -> 21.7 dB, outpainting
# 24.9 -> 25.1 dB) and video-to-audio, which also makes every result's soundtrack, gets the
# colour's sound (.015 -> .050); greedy decoding then adds to the fills (22.2 and 25.7 dB) and
# to audio-to-video's colour (.296 -> .436; stylization loses by it, video-to-audio stays level).
DEFAULT_TASK_SAMPLING = {
    "inpainting": {"guidance_scale": 3.0, "temperature": 0.0},
    "outpainting": {"guidance_scale": 3.0, "temperature": 0.0},
    "video_to_audio": {"guidance_scale": 3.0},
    "audio_to_video": {"temperature": 0.0},
}
TASK_SAMPLING_FIELDS = tuple(field.name for field in fields(SamplingConfig) if field.name != "seed")  # a call's seed= is its own


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


class VideoPoetPipeline:
    """Every task of one trained model (see the module docstring). `sampling` holds the
    defaults each call starts from (its seed is ignored: pass `seed=`); `task_sampling` maps LM
    tasks to the `sampling` fields they set otherwise (DEFAULT_TASK_SAMPLING when no `sampling`
    is given, else none); a call's own `sampling=` overrides both. `progress` shows
    progress bars over tokens and frames."""

    def __init__(
        self,
        lm: VideoPoetLM,
        video_tokenizer: VideoTokenizer,
        audio_tokenizer: AudioTokenizer,
        text_encoder=None,
        sampling: SamplingConfig | None = None,
        progress: bool = True,
        superres: SuperResTransformer | None = None,
        superres_decoder: SuperResDecoder | None = None,
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
        self.sampling = sampling or DEFAULT_SAMPLING
        self.task_sampling = DEFAULT_TASK_SAMPLING if sampling is None else {}
        self.progress = progress
        if superres_decoder is not None and superres is None:
            raise ValueError("a super-resolution decoder without a super-resolution stage")
        if superres is not None and superres_decoder is None:
            raise ValueError("a super-resolution stage without its decoder (superres_decoder: videopoet train superres-decoder)")
        self.superres = None if superres is None else self._checked_superres(superres.eval())
        if superres_decoder is not None and not isinstance(superres_decoder, SuperResDecoder):
            raise TypeError(f"superres_decoder: a SuperResDecoder (videopoet train superres-decoder), not a {type(superres_decoder).__name__}")
        if superres_decoder is not None and (superres_decoder.config.bits, superres_decoder.config.scale) != (superres.config.codebook_bits, superres.config.scale):
            raise ValueError(
                f"the super-resolution decoder reads {superres_decoder.config.bits}-bit codes at scale {superres_decoder.config.scale}, "
                f"the stage makes {superres.config.codebook_bits}-bit codes at scale {superres.config.scale}"
            )
        self.superres_decoder = None if superres_decoder is None else superres_decoder.eval()

    def _checked_superres(self, superres: SuperResTransformer) -> SuperResTransformer:
        """`superres` if it fits this pipeline's codes, text and clips; ValueError otherwise."""
        config = superres.config
        if 2**config.codebook_bits != self.video_tokenizer.codebook_size:
            raise ValueError(f"the super-resolution stage takes {2**config.codebook_bits} video codes, the video tokenizer has {self.video_tokenizer.codebook_size}")
        if config.text_dim != self.lm.config.text_dim:
            raise ValueError(f"the super-resolution stage reads {config.text_dim}-wide text embeddings, the LM {self.lm.config.text_dim}")
        size = int((config.clip or {}).get("size", self.size))
        low = self.video_tokenizer.latent_shape(self.frames, size, size)
        superres.check_grids((1, low[0], *(side * config.scale for side in low[1:])), torch.zeros(1, *low, dtype=torch.long))
        return superres

    @property
    def upscaled_size(self) -> int | None:
        """The side of upscaled frames (None without a super-resolution stage)."""
        return None if self.superres is None else self._superres_input_size * self.superres.config.scale

    @property
    def _superres_input_size(self) -> int:
        return int((self.superres.config.clip or {}).get("size", self.size))

    def _check_upscale(self, upscale: bool) -> None:
        if upscale and self.superres is None:
            raise ValueError("upscale: this pipeline has no super-resolution stage (a superres/ part in its model directory)")

    # ------------------------------------------------------------------------- loading

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike | None = None, device: str | torch.device = "cpu", **options) -> VideoPoetPipeline:
        """Load a pipeline directory (by default the shipped Shapes World model). A missing
        part (`superres_decoder/` too, beside a `superres/` stage) raises FileNotFoundError naming
        the directory and the part."""
        directory = Path(path) if path is not None else DEFAULT_MODEL
        if not directory.is_dir():
            raise FileNotFoundError(f"{directory}: no such model directory")
        staged = (directory / "superres").is_dir() and "superres" not in options
        stage_parts: tuple[str, ...] = ()
        if staged:
            stage_parts = ("superres",) if "superres_decoder" in options else ("superres", "superres_decoder")
        for part in PARTS + stage_parts:
            model_part(part, directory)
        lm = VideoPoetLM.from_pretrained(model_part("lm", directory)).to(device)
        video = VideoTokenizer.from_pretrained(model_part("video_tokenizer", directory)).to(device)
        audio = AudioTokenizer.from_pretrained(model_part("audio_tokenizer", directory)).to(device)
        if staged:
            options["superres"] = SuperResTransformer.from_pretrained(model_part("superres", directory)).to(device)
            if "superres_decoder" in stage_parts:
                options["superres_decoder"] = SuperResDecoder.from_pretrained(model_part("superres_decoder", directory)).to(device)
        return cls(lm, video, audio, **options)

    @property
    def device(self) -> torch.device:
        return next(self.lm.parameters()).device

    @property
    def text_encoder(self):
        """The frozen text encoder the LM was trained with, loaded on first use: the one its
        config names, or the folder given as `text_encoder=`, which must name the same encoder
        (e.g. a vocabulary subset of it: `bert.write_vocabulary_subset`)."""
        if self._text_encoder is None or isinstance(self._text_encoder, (str, os.PathLike)):
            from .tokenizers.text import TextEncoder

            self._text_encoder = TextEncoder.for_model(
                self.lm.config.clip["text_encoder"], self._text_encoder, max_tokens=self.lm.config.text_length, device=self.device, model="the LM"
            )
        return self._text_encoder

    # ------------------------------------------------------------------------- tasks
    #
    # Every task takes one input (returns one GenerationResult) or a list of inputs (returns a
    # list, made in one batched pass per stage: much faster than one at a time). A batch is
    # reproducible with its seed.

    def __call__(self, prompt: str | Sequence[str], **options) -> GenerationResult | list[GenerationResult]:
        """Text-to-video; see `text_to_video`."""
        return self.text_to_video(prompt, **options)

    def text_to_video(self, prompt: str | Sequence[str], audio: bool = True, seed: int | None = None, sampling: SamplingConfig | None = None, upscale: bool = False):
        """A clip for `prompt` (objects, motions and the camera, e.g. "the camera pans left")."""
        self._check_upscale(upscale)
        prompts, single = _listed(prompt)
        seed = _seed(seed)
        codes = self._videos("text_to_video", seed, sampling, prompts)
        results = self._results("text_to_video", self._decode(codes), audio, seed, sampling, [(p,) for p in prompts], codes)
        return self._finish(results, single, upscale)

    def text_to_image(self, prompt: str | Sequence[str], seed: int | None = None, sampling: SamplingConfig | None = None, upscale: bool = False):
        """One frame for `prompt`: frames (1, size, size, 3)."""
        self._check_upscale(upscale)
        prompts, single = _listed(prompt)
        seed = _seed(seed)
        codes = self._videos("text_to_image", seed, sampling, prompts, length=1)
        results = [GenerationResult(frames, None, FPS, SAMPLE_RATE, seed, "text_to_image", (p,)) for frames, p in zip(self._decode(codes), prompts)]
        return self._finish(results, single, upscale)

    def image_to_video(self, image: ImageInput | Sequence[ImageInput], prompt: str | Sequence[str], audio: bool = True, seed: int | None = None, sampling: SamplingConfig | None = None, upscale: bool = False):
        """A clip that starts from `image` (a file, (H, W, 3) uint8 or (3, H, W) in [-1, 1];
        scaled to cover the clip's size and centre-cropped) and moves as `prompt` says."""
        self._check_upscale(upscale)
        images, single = _listed(image)
        prompts = _matching(prompt, len(images), "prompt")
        seed = _seed(seed)
        firsts = self._encode([self._image(item)[:, None] for item in images])
        codes = self._from_first_frames("image_to_video", firsts, prompts, seed, sampling)
        results = self._results("image_to_video", self._decode(codes), audio, seed, sampling, [(p,) for p in prompts], codes)
        return self._finish(results, single, upscale)

    def continue_video(self, video: VideoInput | Sequence[VideoInput], seconds: float = 1.5, audio: bool = True, seed: int | None = None, sampling: SamplingConfig | None = None, upscale: bool = False):
        """`video` (at least 5 frames; a file is read at 8 fps) followed by `seconds` more. A
        list of videos must share one length."""
        self._check_upscale(upscale)
        videos, single = _listed(video)
        seed = _seed(seed)
        frames = [to_uint8_frames(self._video(item, exact=False)) for item in videos]
        lengths = {len(item) for item in frames}
        if len(lengths) > 1:
            raise ValueError(f"continue_video: a batch of videos must share one length, got {sorted(lengths)} frames")
        length = lengths.pop()
        if length < self._context_frames:
            raise ValueError(f"video of {length} frames: continuation needs at least {self._context_frames}")
        extended = self._extend(frames, length + _frame_count(seconds, "seconds"), seed, sampling)
        results = self._results("frame_continuation", extended, audio, seed, sampling, [()] * len(frames))
        return self._finish(results, single, upscale)

    def long_video(self, prompt: str | Sequence[str], seconds: float = 10.0, audio: bool = True, seed: int | None = None, sampling: SamplingConfig | None = None, upscale: bool = False):
        """`seconds` of video for `prompt`: a text-to-video clip, then continuation passes."""
        self._check_upscale(upscale)
        prompts, single = _listed(prompt)
        seed = _seed(seed)
        total = _frame_count(seconds, "seconds")
        frames = self._decode(self._videos("text_to_video", seed, sampling, prompts))
        frames = [item[:total] for item in self._extend(frames, total, seed + 1, sampling)]
        results = self._results("long_video", frames, audio, seed, sampling, [(p,) for p in prompts])
        return self._finish(results, single, upscale)

    def story(self, prompts: Sequence[str] | Sequence[Sequence[str]], audio: bool = True, seed: int | None = None, sampling: SamplingConfig | None = None, upscale: bool = False):
        """One segment per prompt: text-to-video for the first, then image-to-video from the
        previous segment's last frame with each next prompt (the objects carry over). A list of
        stories (lists of prompts) must share one number of segments."""
        self._check_upscale(upscale)
        if isinstance(prompts, str) or not prompts:
            raise ValueError("story: needs a list of prompts (one per segment)")
        single = isinstance(prompts[0], str)
        stories = [list(prompts)] if single else [list(story) for story in prompts]
        if len({len(story) for story in stories}) > 1 or not stories[0]:
            raise ValueError(f"story: every story needs the same, nonzero number of prompts, got {[len(story) for story in stories]}")
        seed = _seed(seed)
        segments = len(stories[0])
        bar = tqdm(total=segments, desc="story", unit="segment", disable=not self.progress)
        frames = self._decode(self._videos("text_to_video", seed, sampling, [story[0] for story in stories]))
        bar.update(1)
        for index in range(1, segments):
            firsts = self._encode([from_uint8_frames(item[-1:]) for item in frames])
            codes = self._from_first_frames("image_to_video", firsts, [story[index] for story in stories], seed + index, sampling)
            frames = [np.concatenate([old, new[1:]]) for old, new in zip(frames, self._decode(codes))]
            bar.update(1)
        bar.close()
        results = self._results("story", frames, audio, seed, sampling, [tuple(story) for story in stories])
        return self._finish(results, single, upscale)

    def inpaint(self, video: VideoInput | Sequence[VideoInput], mask: ImageInput | Sequence[ImageInput], prompt: str | Sequence[str] = "", audio: bool = True, seed: int | None = None, sampling: SamplingConfig | None = None, upscale: bool = False):
        """Regenerate the masked part of a clip-length `video`. mask: True (or white, in an image
        file) where to fill; (H, W) for every frame or (T, H, W); one mask for a list of videos
        or a list of masks. The rest keeps `video`'s pixels."""
        self._check_upscale(upscale)
        videos, single = _listed(video)
        masks = mask if isinstance(mask, (list, tuple)) else [mask] * len(videos)
        if len(masks) != len(videos):
            raise ValueError(f"inpaint: {len(videos)} videos but {len(masks)} masks")
        results = self._fill("inpainting", [self._video(item) for item in videos], [self._mask(item) for item in masks], _matching(prompt, len(videos), "prompt"), audio, seed, sampling)
        return self._finish(results, single, upscale)

    def outpaint(self, video: VideoInput | Sequence[VideoInput], border: int, prompt: str | Sequence[str] = "", audio: bool = True, seed: int | None = None, sampling: SamplingConfig | None = None, upscale: bool = False):
        """Regenerate everything within `border` pixels of the picture's edges."""
        self._check_upscale(upscale)
        if not 0 < border < self.size / 2:
            raise ValueError(f"border={border}: must be between 1 and {self.size // 2 - 1} pixels for {self.size}x{self.size} clips")
        videos, single = _listed(video)
        mask = torch.ones(self.size, self.size, dtype=torch.bool)
        mask[border:-border, border:-border] = False
        results = self._fill("outpainting", [self._video(item) for item in videos], [mask] * len(videos), _matching(prompt, len(videos), "prompt"), audio, seed, sampling)
        return self._finish(results, single, upscale)

    def stylize(self, video: VideoInput | Sequence[VideoInput], prompt: str | Sequence[str], audio: bool = True, seed: int | None = None, sampling: SamplingConfig | None = None, upscale: bool = False):
        """A new clip with `video`'s motion and layout (its optical flow and edge map) and the
        look `prompt` describes."""
        self._check_upscale(upscale)
        from .data.structure import optical_flow_video, structure_video

        videos, single = _listed(video)
        prompts = _matching(prompt, len(videos), "prompt")
        seed = _seed(seed)
        frames = [to_uint8_frames(self._video(item)) for item in videos]
        flows = self._encode([from_uint8_frames(optical_flow_video(item)) for item in frames])
        structures = self._encode([from_uint8_frames(structure_video(item)) for item in frames])
        codes = self._videos("stylization", seed, sampling, prompts, [[flow, structure] for flow, structure in zip(flows, structures)])
        results = self._results("stylization", self._decode(codes), audio, seed, sampling, [(p,) for p in prompts], codes)
        return self._finish(results, single, upscale)

    def video_to_audio(self, video: VideoInput | Sequence[VideoInput], seed: int | None = None, sampling: SamplingConfig | None = None):
        """A soundtrack for `video` (any number of frames; a file is read at 8 fps)."""
        videos, single = _listed(video)
        seed = _seed(seed)
        frames = [to_uint8_frames(self._video(item, exact=False)) for item in videos]
        if len({len(item) for item in frames}) > 1:
            raise ValueError("video_to_audio: a batch of videos must share one length")
        sounds = self._soundtracks(frames, seed, sampling)
        results = [GenerationResult(item, sound, FPS, SAMPLE_RATE, seed, "video_to_audio") for item, sound in zip(frames, sounds)]
        return results[0] if single else results

    def audio_to_video(self, audio: AudioInput | Sequence[AudioInput], seed: int | None = None, sampling: SamplingConfig | None = None, upscale: bool = False):
        """A clip for a soundtrack of at least the clip's length (16 kHz mono; a file's first
        audio track; longer sound is cut to the clip)."""
        self._check_upscale(upscale)
        sounds, single = _listed(audio)
        seed = _seed(seed)
        waves = [self._audio(item) for item in sounds]
        codes = self.audio_tokenizer.encode(torch.stack(waves).to(self.device))[:, :, : self.audio_frames].cpu()
        video = self._videos("audio_to_video", seed, sampling, [None] * len(waves), condition_audio=list(codes))
        results = [GenerationResult(frames, wave.numpy(), FPS, SAMPLE_RATE, seed, "audio_to_video") for frames, wave in zip(self._decode(video), waves)]
        return self._finish(results, single, upscale)

    def _finish(self, results: list[GenerationResult], single: bool, upscale: bool):
        """A task's return value: its one result or its list, through `upscale` when asked."""
        if upscale:
            results = self.upscale(results)
        return results[0] if single else results

    def upscale(self, result: GenerationResult | Sequence[GenerationResult], decoding: DecodingConfig | None = None):
        """`result` (or a list of results of one length) at the super-resolution stage's scale:
        each clip-length window (every clip - 1 frames, the last one padded) is encoded, its
        high-resolution grid predicted by the stage (conditioned on the result's prompt, guided
        as `decoding` says; no sampling, so the same input gives the same output) and decoded
        from both grids. Audio, fps, seed and prompts are kept."""
        self._check_upscale(True)
        results, single = _listed(result)
        if len({item.frames.shape for item in results}) > 1:
            raise ValueError(f"upscale: a batch of results must share one shape, got {sorted({item.frames.shape for item in results})}")
        if results[0].frames.shape[1:3] != (self.size, self.size):
            raise ValueError(f"upscale: frames of {results[0].frames.shape[1]}x{results[0].frames.shape[2]}, this pipeline makes {self.size}x{self.size}")
        decoding = decoding or DecodingConfig()
        count = results[0].frames.shape[0]
        text = None
        if any(item.prompts for item in results):
            text = self.text_encoder([item.prompts[0] if item.prompts else "" for item in results])
        pieces: list[list[np.ndarray]] = [[] for _ in results]
        windowed = list(self._windows([item.frames for item in results]))
        for index, (_, windows) in enumerate(tqdm(windowed, desc="upscale", unit="clip", disable=not self.progress, leave=False)):
            videos = [from_uint8_frames(item) for item in windows]
            if self._superres_input_size != self.size:
                videos = list(bicubic_resize(torch.stack(videos), self._superres_input_size))
            low = torch.stack(self._encode(videos)).to(self.device)
            soft = expected_latent(self.superres, low, *self._superres_text(text, len(results)), decoding)
            for row, video in enumerate(self.superres_decoder.decode(soft, low).float()):
                frames = to_uint8_frames(video)
                pieces[row].append(frames if index == 0 else frames[1:])
        upscaled = [replace(item, frames=np.concatenate(row)[:count]) for item, row in zip(results, pieces)]
        return upscaled[0] if single else upscaled

    def _superres_text(self, text, rows: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The stage's text condition: (rows, L, E) embeddings and (rows, L) validity (none: all False)."""
        if text is None:
            width = self.superres.config.text_dim
            return torch.zeros(rows, 1, width, device=self.device), torch.zeros(rows, 1, dtype=torch.bool, device=self.device)
        return text.embeddings.to(self.device), text.mask.to(self.device)

    # ------------------------------------------------------------------------- passes

    @property
    def _context_frames(self) -> int:
        return 1 + self.video_tokenizer.config.temporal_factor * (CONTEXT_LATENT_FRAMES - 1)

    def sampling_for(self, task: str) -> SamplingConfig:
        """The sampling an LM task (a name from `videopoet.lm.tasks`) uses without a call's own."""
        if task not in LM_TASKS:
            raise ValueError(f"task {task!r}: not an LM task ({', '.join(LM_TASKS)})")
        return replace(self.sampling, **self.task_sampling.get(task, {}))

    @property
    def task_sampling(self) -> dict[str, dict[str, float | None]]:
        """LM task -> the `sampling` fields (TASK_SAMPLING_FIELDS) it sets otherwise when a call
        passes no `sampling=`, e.g. {"inpainting": {"temperature": 0.0}}."""
        return self._task_sampling

    @task_sampling.setter
    def task_sampling(self, overrides: dict[str, dict[str, float | None]]) -> None:
        unknown = sorted(set(overrides) - set(LM_TASKS))
        if unknown:
            raise ValueError(f"task_sampling for {', '.join(map(repr, unknown))}: not an LM task ({', '.join(LM_TASKS)})")
        for task, settings in overrides.items():
            wrong = sorted(set(settings) - set(TASK_SAMPLING_FIELDS))
            if wrong:
                raise ValueError(f"task_sampling[{task!r}] sets {', '.join(wrong)}: a task may set only {', '.join(TASK_SAMPLING_FIELDS)}")
            try:
                SamplingConfig(**settings)
            except ValueError as error:
                raise ValueError(f"task_sampling[{task!r}]: {error}") from None
        self._task_sampling = {task: dict(settings) for task, settings in overrides.items()}

    def _run(
        self,
        task: str,
        seed: int,
        sampling: SamplingConfig | None,
        prompts: Sequence[str | None],
        condition_videos: Sequence[Sequence[torch.Tensor]] | None = None,
        condition_audio: Sequence[torch.Tensor] | None = None,
        output_video: tuple[int, ...] | None = None,
        output_audio: tuple[int, ...] | None = None,
    ) -> list[tuple[torch.Tensor | None, torch.Tensor | None]]:
        """One batched LM pass, a row per prompt (None: a task without text): per row, the codes
        it samples (video (t, h, w) or None, audio (levels, frames) or None)."""
        rows = len(prompts)
        text = prompts[0] is not None
        for prompt in prompts:
            if text and not isinstance(prompt, str):
                raise TypeError(f"{task}: prompt must be a string, got {type(prompt).__name__}")
            if task in PROMPT_REQUIRED and not (prompt or "").strip():
                raise ValueError(f"{task}: the prompt is empty; say what the video shows")
        examples = [
            TaskExample(
                task,
                text,
                [codes.cpu() for codes in (condition_videos[row] if condition_videos else [])],
                None if condition_audio is None else condition_audio[row].cpu(),
                None if output_video is None else torch.zeros(output_video, dtype=torch.long),
                None if output_audio is None else torch.zeros(output_audio, dtype=torch.long),
            )
            for row in range(rows)
        ]
        vocab = self.lm.config.vocabulary
        layouts = [build_sequence(vocab, example, self.lm.config.text_length) for example in examples]
        if len(layouts[0]) > self.lm.config.max_length:
            raise ValueError(f"{task}: {len(layouts[0])} tokens exceed the LM's max_length {self.lm.config.max_length}")
        if text:
            embedded = self.text_encoder(list(prompts))
            batch = collate(vocab, layouts, embedded.embeddings.cpu(), embedded.mask.cpu())
        else:
            batch = collate(vocab, layouts)
        config = replace(sampling or self.sampling_for(task), seed=seed)
        layout = layouts[0]
        with tqdm(total=len(layout) - layout.prefix_length, desc=task, unit="token", disable=not self.progress, leave=False) as bar:
            tokens = sample(self.lm, batch, layout, config, progress=_advance(bar)).cpu()
        return [output_codes(vocab, example, layout, tokens[row]) for row, example in enumerate(examples)]

    def _videos(self, task: str, seed: int, sampling, prompts, conditions=None, condition_audio=None, length: int | None = None) -> list[torch.Tensor]:
        """The video codes of one batched pass (output: `length` latent frames, default all)."""
        shape = (length or self.latent_shape[0], *self.latent_shape[1:])
        return [video for video, _ in self._run(task, seed, sampling, prompts, conditions, condition_audio, output_video=shape)]

    def _from_first_frames(self, task: str, firsts: list[torch.Tensor], prompts, seed: int, sampling) -> list[torch.Tensor]:
        """Whole clips' codes: each (1, h, w) first latent frame and the rest an LM pass makes."""
        rest = self._videos(task, seed, sampling, prompts, [[first] for first in firsts], length=self.latent_shape[0] - 1)
        return [torch.cat([first, more]) for first, more in zip(firsts, rest)]

    def _extend(self, frames: list[np.ndarray], total: int, seed: int, sampling: SamplingConfig | None) -> list[np.ndarray]:
        """Each of `frames` (equal-length (T, H, W, 3)) continued pass by pass to >= `total` frames."""
        context = self._context_frames
        new_per_pass = self.frames - context
        passes = max(0, math.ceil((total - frames[0].shape[0]) / new_per_pass))
        bar = tqdm(total=passes * new_per_pass, desc="continuation", unit="frame", disable=not self.progress or passes == 0)
        for index in range(passes):
            starts = self._encode([from_uint8_frames(item[-context:]) for item in frames])
            rest = self._videos("frame_continuation", seed + index, sampling, [None] * len(frames), [[start] for start in starts], length=self.latent_shape[0] - CONTEXT_LATENT_FRAMES)
            decoded = self._decode([torch.cat([start, more]) for start, more in zip(starts, rest)])
            frames = [np.concatenate([old, new[context:]]) for old, new in zip(frames, decoded)]
            bar.update(new_per_pass)
        bar.close()
        return frames

    def _fill(self, task: str, sources: list[torch.Tensor], masks: list[torch.Tensor], prompts: list[str], audio: bool, seed: int | None, sampling) -> list[GenerationResult]:
        """Inpainting / outpainting of each (3, T, H, W) source where its mask ((H, W) or (T, H, W)) is True."""
        seed = _seed(seed)
        full = []
        for mask in masks:
            mask = mask.expand(self.frames, self.size, self.size) if mask.dim() == 2 else mask
            if tuple(mask.shape) != (self.frames, self.size, self.size):
                raise ValueError(f"mask of shape {tuple(mask.shape)}: expected ({self.size}, {self.size}) or ({self.frames}, {self.size}, {self.size})")
            if not bool(mask.any()):
                raise ValueError("the mask is empty: nothing to fill")
            full.append(mask)
        conditions = []
        for codes, mask in zip(self._encode(sources), full):
            codes = codes.clone()
            codes[self._latent_mask(mask)] = MASKED
            conditions.append([codes])
        generated = self._decode(self._videos(task, seed, sampling, prompts, conditions))
        frames = [np.where(mask.numpy()[..., None], new, to_uint8_frames(source)) for new, mask, source in zip(generated, full, sources)]
        return self._results(task, frames, audio, seed, sampling, [(p,) if p else () for p in prompts])

    def _latent_mask(self, mask: torch.Tensor) -> torch.Tensor:
        """(T, H, W) pixel mask -> (t, h, w): a latent position is masked when any pixel of its
        footprint is (latent frame 0 covers frame 0, latent frame k frames 4k-3 .. 4k)."""
        time, space = self.video_tokenizer.config.temporal_factor, self.video_tokenizer.config.spatial_factor
        padded = torch.cat([mask[:1].expand(time - 1, -1, -1), mask]).float()  # frame 0 alone in its group
        pooled = torch.nn.functional.max_pool3d(padded[None, None], (time, space, space))
        return pooled[0, 0].bool()

    def _results(self, task: str, frames: list[np.ndarray], audio: bool, seed: int, sampling, prompts: list[tuple[str, ...]], codes: list[torch.Tensor] | None = None) -> list[GenerationResult]:
        sounds = self._soundtracks(frames, seed + 1_000, sampling, codes) if audio else [None] * len(frames)
        return [GenerationResult(item, sound, FPS, SAMPLE_RATE, seed, task, prompt) for item, sound, prompt in zip(frames, sounds, prompts)]

    def _windows(self, frames: list[np.ndarray]) -> Iterator[tuple[int, list[np.ndarray]]]:
        """(start, clip-length windows) of equal-length (T, H, W, 3) videos, every clip - 1 frames
        (consecutive windows share a frame); the last window is padded with its last frame."""
        count = frames[0].shape[0]
        for start in range(0, max(count - 1, 1), self.frames - 1):
            windows = [item[start : start + self.frames] for item in frames]
            if windows[0].shape[0] < self.frames:
                windows = [np.concatenate([item, np.repeat(item[-1:], self.frames - item.shape[0], axis=0)]) for item in windows]
            yield start, windows

    def _soundtracks(self, frames: list[np.ndarray], seed: int, sampling, codes: list[torch.Tensor] | None = None) -> list[np.ndarray]:
        """(N,) audio for each of `frames` (equal lengths) by video-to-audio over clip-length
        windows every clip - 1 frames (the last window padded with its last frame); `codes` are
        the videos' own codes when they are exactly one clip long."""
        count, hop = frames[0].shape[0], self.frames - 1
        pieces: list[list[np.ndarray]] = [[] for _ in frames]
        for index, (start, windows) in enumerate(self._windows(frames)):
            window_codes = codes if codes is not None and count == self.frames else self._encode([from_uint8_frames(item) for item in windows])
            levels = self.audio_tokenizer.config.levels
            outputs = self._run("video_to_audio", seed + index, sampling, [None] * len(frames), [[c] for c in window_codes], output_audio=(levels, self.audio_frames))
            waves = self.audio_tokenizer.decode(torch.stack([audio for _, audio in outputs]).to(self.device)).float().cpu().numpy()
            keep = round(hop / FPS * SAMPLE_RATE) if start + self.frames < count else self.audio_samples
            for row, wave in enumerate(waves):
                pieces[row].append(wave[:keep])
        samples = round(count / FPS * SAMPLE_RATE)
        return [np.clip(np.concatenate(row)[:samples], -1.0, 1.0).astype(np.float32) for row in pieces]

    # ------------------------------------------------------------------------- media

    @torch.no_grad()
    def _encode(self, videos: list[torch.Tensor]) -> list[torch.Tensor]:
        """Equal-shaped (3, T, H, W) videos in [-1, 1] -> their (t, h, w) codes."""
        dtype = next(self.video_tokenizer.parameters()).dtype
        return list(self.video_tokenizer.encode(torch.stack(videos).to(self.device, dtype)).cpu())

    @torch.no_grad()
    def _decode(self, codes: list[torch.Tensor]) -> list[np.ndarray]:
        """Equal-shaped (t, h, w) codes -> (T, H, W, 3) uint8 frames each, by the video tokenizer."""
        videos = self.video_tokenizer.decode(torch.stack(codes).to(self.device)).float()
        return [to_uint8_frames(video) for video in videos]

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


def _listed(value) -> tuple[list, bool]:
    """(the inputs as a list, whether a single input was given): a list or tuple is a batch."""
    if isinstance(value, (list, tuple)):
        if not value:
            raise ValueError("an empty list of inputs")
        return list(value), False
    return [value], True


def _matching(value: str | Sequence[str], count: int, name: str) -> list[str]:
    """A list of `count` strings: one string repeated, or a list of exactly `count`."""
    if isinstance(value, str):
        return [value] * count
    values = list(value)
    if len(values) != count:
        raise ValueError(f"{count} inputs but {len(values)} values of {name}")
    return values


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
