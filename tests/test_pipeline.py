"""The generation pipeline and `videopoet generate`, on a tiny untrained model directory:
shapes of every task's result, reproducibility, kept pixels, mask mapping, export, bad input."""

import argparse
import shutil
from dataclasses import replace

import av
import numpy as np
import pytest
import torch
from PIL import Image

from videopoet import pipeline as pipeline_module
from videopoet.cli import main
from videopoet.io import MediaError, write_video
from videopoet.lm import LMConfig, SamplingConfig, VideoPoetLM, Vocabulary
from videopoet.cli_generate import apply_sampling_arguments
from videopoet.pipeline import DEFAULT_SAMPLING, DEFAULT_TASK_SAMPLING, GenerationResult, VideoPoetPipeline, export_to_video
from videopoet.superres import SuperResConfig, SuperResDecoder, SuperResTransformer
from videopoet.tokenizers import AudioTokenizer, AudioTokenizerConfig, VideoTokenizer, VideoTokenizerConfig

SIZE, FRAMES = 16, 9  # latent grid (3, 4, 4); 9 / 8 s of audio: 57 frames x 2 levels
SAMPLES = 18_000


def make_model_dir(directory, size: int):
    """A pipeline directory of tiny untrained parts for `size` x `size`, 9-frame clips."""
    torch.manual_seed(0)
    video = VideoTokenizer(VideoTokenizerConfig(base_channels=8, channel_multipliers=(1, 2, 2), time_downsamples=2, bits=6, image_size=size))
    audio = AudioTokenizer(AudioTokenizerConfig(channels=4, latent_dim=8, residual_units=1, levels=2, codebook_size=16))
    vocab = Vocabulary(video_codes=video.codebook_size, audio_codes=16, audio_levels=2)
    clip = {"size": size, "frames": FRAMES, "text_encoder": "all-MiniLM-L6-v2"}
    lm = VideoPoetLM(LMConfig(vocab, width=32, depth=1, heads=2, text_length=24, max_length=1024, clip=clip))
    video.save_pretrained(directory / "video_tokenizer")
    audio.save_pretrained(directory / "audio_tokenizer")
    lm.save_pretrained(directory / "lm")
    return directory


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    return make_model_dir(tmp_path_factory.mktemp("pipeline"), SIZE)


@pytest.fixture(scope="session")
def pipe(model_dir):
    return VideoPoetPipeline.from_pretrained(model_dir, progress=False, sampling=SamplingConfig(top_k=8, guidance_scale=2.0))


@pytest.fixture(scope="session")
def world_pipe(tmp_path_factory):
    """At 32x32, the smallest size the Shapes World renders (for `eval tasks`)."""
    directory = make_model_dir(tmp_path_factory.mktemp("pipeline32"), 32)
    return VideoPoetPipeline.from_pretrained(directory, progress=False, sampling=SamplingConfig(top_k=8))


@pytest.fixture(scope="session")
def upscaling_dir(model_dir, tmp_path_factory):
    """The tiny model directory plus an untrained 2x super-resolution stage and its decoder."""
    directory = tmp_path_factory.mktemp("pipeline-superres")
    for part in ("video_tokenizer", "audio_tokenizer", "lm"):
        shutil.copytree(model_dir / part, directory / part)
    torch.manual_seed(0)
    config = SuperResConfig(codebook_bits=6, factors=2, width=16, depth=3, heads=2, window=(3, 4, 4), max_frames=3, max_height=8, max_width=8)
    SuperResTransformer(config).save_pretrained(directory / "superres")
    noisy_decoder(VideoTokenizer.from_pretrained(model_dir / "video_tokenizer")).save_pretrained(directory / "superres_decoder")
    return directory


def noisy_decoder(tokenizer: VideoTokenizer) -> SuperResDecoder:
    """A two-grid decoder from `tokenizer`, its weights moved at random (as training would) so
    that its output depends on the stage's prediction."""
    decoder = SuperResDecoder.from_tokenizer(tokenizer, scale=2)
    with torch.no_grad():
        for parameter in decoder.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.05)
    return decoder


@pytest.fixture(scope="session")
def larger_stage_dir(model_dir, tmp_path_factory):
    """The tiny model directory plus a 2x stage trained (untrained here) on clips twice the
    LM's size, and its own decoder: as the shipped 64 -> 128 stage beside the 32 px LM."""
    directory = tmp_path_factory.mktemp("pipeline-larger-stage")
    for part in ("video_tokenizer", "audio_tokenizer", "lm"):
        shutil.copytree(model_dir / part, directory / part)
    torch.manual_seed(1)
    clip = {"size": 2 * SIZE, "frames": FRAMES, "text_encoder": "all-MiniLM-L6-v2", "text_length": 24}
    config = SuperResConfig(codebook_bits=6, factors=2, width=16, depth=3, heads=2, window=(3, 4, 4), max_frames=3, max_height=16, max_width=16, clip=clip)
    SuperResTransformer(config).save_pretrained(directory / "superres")
    noisy_decoder(VideoTokenizer.from_pretrained(model_dir / "video_tokenizer")).save_pretrained(directory / "superres_decoder")
    return directory


def clip_frames(seed: int = 0, frames: int = FRAMES) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (frames, SIZE, SIZE, 3), dtype=np.uint8)


def check_clip(result: GenerationResult, frames: int = FRAMES, audio: bool = True) -> None:
    assert result.frames.dtype == np.uint8 and result.frames.shape == (frames, SIZE, SIZE, 3)
    if audio:
        assert result.audio.dtype == np.float32 and result.audio.shape == (round(frames / 8 * 16_000),)
        assert np.abs(result.audio).max() <= 1.0
    else:
        assert result.audio is None


def test_text_to_video_and_image(pipe):
    result = pipe("a large red circle moving left", seed=3)
    check_clip(result)
    assert (result.seed, result.task, result.fps, result.prompts) == (3, "text_to_video", 8, ("a large red circle moving left",))
    check_clip(pipe.text_to_video("a small cube", audio=False, seed=0), audio=False)
    check_clip(pipe.text_to_image("a small blue square", seed=0), frames=1, audio=False)


def test_same_seed_same_result_and_unseeded_results_report_their_seed(pipe):
    first, again = pipe("a green triangle rising", seed=7), pipe("a green triangle rising", seed=7)
    assert np.array_equal(first.frames, again.frames) and np.array_equal(first.audio, again.audio)
    unseeded = pipe.text_to_video("a green triangle rising", audio=False)
    replay = pipe.text_to_video("a green triangle rising", audio=False, seed=unseeded.seed)
    assert np.array_equal(unseeded.frames, replay.frames)


def test_image_to_video_from_array_and_file(pipe, tmp_path):
    image = clip_frames()[0]
    check_clip(pipe.image_to_video(image, "a circle falling", seed=0))
    path = tmp_path / "first.png"
    Image.fromarray(np.repeat(np.repeat(image, 3, axis=0), 3, axis=1)).save(path)  # any size: scaled and cropped
    check_clip(pipe.image_to_video(path, "a circle falling", audio=False, seed=0), audio=False)


def test_continuation_long_video_and_story_lengths(pipe):
    source = clip_frames()
    continued = pipe.continue_video(source, seconds=1.0, seed=0)  # 8 frames: two passes of 4
    check_clip(continued, frames=FRAMES + 8)
    assert np.array_equal(continued.frames[:FRAMES], source)
    check_clip(pipe.long_video("a box moving right", seconds=2.5, seed=0), frames=20)
    story = pipe.story(["a red ball", "it moves left", "it moves up"], seed=0)
    check_clip(story, frames=FRAMES + 2 * (FRAMES - 1))
    assert story.prompts == ("a red ball", "it moves left", "it moves up")


def test_inpainting_and_outpainting_keep_the_pixels_outside_the_mask(pipe):
    source = clip_frames(1)
    mask = np.zeros((SIZE, SIZE), dtype=bool)
    mask[4:8, 8:12] = True
    filled = pipe.inpaint(source, mask, "a red ball", seed=0)
    check_clip(filled)
    assert np.array_equal(filled.frames[:, ~mask], source[:, ~mask])
    wider = pipe.outpaint(source, border=4, seed=0, audio=False)
    assert np.array_equal(wider.frames[:, 4:-4, 4:-4], source[:, 4:-4, 4:-4])


def test_default_sampling_per_task(model_dir, pipe, monkeypatch):
    """Without a sampling of its own, a pipeline samples the fill tasks (greedy, guidance 3) and
    video-to-audio (every soundtrack, guidance 3) per DEFAULT_TASK_SAMPLING and the rest per
    DEFAULT_SAMPLING; a call's `sampling=` replaces both; a pipeline given a sampling uses it for
    every task."""
    configs = []
    sample = pipeline_module.sample

    def recording(model, batch, layout, config, **options):
        configs.append((config.guidance_scale, config.temperature))
        return sample(model, batch, layout, config, **options)

    monkeypatch.setattr(pipeline_module, "sample", recording)
    default = VideoPoetPipeline.from_pretrained(model_dir, progress=False)
    common = (DEFAULT_SAMPLING.guidance_scale, DEFAULT_SAMPLING.temperature)
    fill = (DEFAULT_TASK_SAMPLING["inpainting"]["guidance_scale"], DEFAULT_TASK_SAMPLING["inpainting"]["temperature"])
    soundtrack = (DEFAULT_TASK_SAMPLING["video_to_audio"]["guidance_scale"], DEFAULT_SAMPLING.temperature)
    assert len({common, fill, soundtrack}) == 3 and DEFAULT_TASK_SAMPLING["outpainting"] == DEFAULT_TASK_SAMPLING["inpainting"]
    mask = np.zeros((SIZE, SIZE), dtype=bool)
    mask[4:12, 4:12] = True
    default.inpaint(clip_frames(1), mask, "a red ball", seed=0)
    default.text_to_video("a red ball", seed=0)
    default.outpaint(clip_frames(1), border=4, seed=0, audio=False)
    assert configs == [fill, soundtrack, common, soundtrack, fill]  # the fill, its soundtrack; the video, its soundtrack; the border
    configs.clear()
    default.inpaint(clip_frames(1), mask, "a red ball", seed=0, sampling=replace(DEFAULT_SAMPLING, guidance_scale=1.5))
    pipe.inpaint(clip_frames(1), mask, "a red ball", seed=0)
    mine = (pipe.sampling.guidance_scale, pipe.sampling.temperature)
    assert configs == [(1.5, 1.0), (1.5, 1.0), mine, mine]
    assert pipe.task_sampling == {}


def test_task_sampling_names_real_tasks_fields_and_values(pipe):
    with pytest.raises(ValueError, match="'inpaint'.*not an LM task"):
        pipe.task_sampling = {"inpaint": {"temperature": 0.0}}
    with pytest.raises(ValueError, match="seed: a task may set only"):
        pipe.task_sampling = {"inpainting": {"seed": 3}}
    with pytest.raises(ValueError, match="not a finite number"):
        pipe.task_sampling = {"inpainting": {"guidance_scale": float("nan")}}
    with pytest.raises(ValueError, match="guidance_scale.*>= 0"):
        pipe.task_sampling = {"inpainting": {"guidance_scale": -1.0}}
    with pytest.raises(ValueError, match="temperature=-0.5"):
        pipe.task_sampling = {"inpainting": {"temperature": -0.5}}
    with pytest.raises(ValueError, match="not an LM task"):
        pipe.sampling_for("text-to-video")
    assert pipe.task_sampling == {}  # a refused setting changes nothing


def test_sampling_options_on_the_command_line(model_dir):
    """An option given on the command line holds for every task and replaces only that option's
    per-task defaults: --temperature keeps the fill tasks' guidance 3, --guidance their greedy."""
    options = {"guidance": None, "temperature": 0.5, "top_k": None, "top_p": None}
    default = VideoPoetPipeline.from_pretrained(model_dir, progress=False)
    apply_sampling_arguments(argparse.Namespace(**options), default)
    inpainting = default.sampling_for("inpainting")
    assert default.sampling.temperature == inpainting.temperature == 0.5 and inpainting.guidance_scale == 3.0
    default = VideoPoetPipeline.from_pretrained(model_dir, progress=False)
    apply_sampling_arguments(argparse.Namespace(**{**options, "temperature": None, "guidance": 2.0}), default)
    inpainting = default.sampling_for("inpainting")
    assert inpainting.guidance_scale == default.sampling_for("video_to_audio").guidance_scale == 2.0 and inpainting.temperature == 0.0
    assert default.task_sampling == {task: {"temperature": 0.0} for task in ["inpainting", "outpainting", "audio_to_video"]}


def test_latent_mask_covers_each_masked_pixels_footprint(pipe):
    mask = torch.zeros(FRAMES, SIZE, SIZE, dtype=torch.bool)
    mask[5, 9, 2] = True  # frame 5 lies in latent frame 2 (frames 5..8); pixel (9, 2) in cell (2, 0)
    mask[0, 0, 15] = True  # frame 0 is latent frame 0 alone
    latent = pipe._latent_mask(mask)
    assert latent.shape == (3, 4, 4)
    assert latent.nonzero().tolist() == [[0, 0, 3], [2, 2, 0]]


def test_stylize_video_to_audio_and_audio_to_video(pipe):
    source = clip_frames(2)
    check_clip(pipe.stylize(source, "a purple square", seed=0))
    sound = pipe.video_to_audio(source, seed=0)
    check_clip(sound)
    assert np.array_equal(sound.frames, source)
    longer = pipe.video_to_audio(clip_frames(3, frames=20), seed=0)  # two windows
    check_clip(longer, frames=20)
    wave = np.sin(np.arange(SAMPLES + 500) / 10).astype(np.float32) * 0.3
    result = pipe.audio_to_video(wave, seed=0)
    check_clip(result)
    assert np.array_equal(result.audio, wave[:SAMPLES])


def test_a_list_of_inputs_gives_a_list_of_results_reproducibly(pipe):
    prompts = ["a red ball", "a blue cube moving up", "a green triangle"]
    batch = pipe.text_to_video(prompts, seed=4)
    assert isinstance(batch, list) and len(batch) == 3
    for result, prompt in zip(batch, prompts):
        check_clip(result)
        assert result.prompts == (prompt,) and result.seed == 4
    again = pipe.text_to_video(prompts, seed=4)
    assert all(np.array_equal(a.frames, b.frames) and np.array_equal(a.audio, b.audio) for a, b in zip(batch, again))
    sources = [clip_frames(5), clip_frames(6)]
    masks = [np.zeros((SIZE, SIZE), bool), np.ones((SIZE, SIZE), bool)]
    masks[0][:8] = True
    filled = pipe.inpaint(sources, masks, ["a red ball", "a blue cube"], audio=False, seed=0)
    assert np.array_equal(filled[0].frames[:, 8:], sources[0][:, 8:])
    stories = pipe.story([["a red ball", "it moves left"], ["a blue cube", "it moves up"]], audio=False, seed=0)
    assert [result.frames.shape[0] for result in stories] == [2 * FRAMES - 1] * 2
    assert [len(item.frames) for item in pipe.image_to_video([clip_frames()[0]] * 2, "a circle falling", audio=False, seed=1)] == [FRAMES] * 2
    with pytest.raises(ValueError, match="2 videos but 1 masks"):
        pipe.inpaint(sources, masks[:1], seed=0)
    with pytest.raises(ValueError, match="prompt"):
        pipe.image_to_video([clip_frames()[0]] * 2, ["one", "two", "three"], seed=0)


def test_bad_input_is_refused_by_name(pipe, tmp_path, model_dir):
    with pytest.raises(ValueError, match="prompt is empty"):
        pipe.text_to_video("  ")
    with pytest.raises(ValueError, match="32x32 pixels"):
        pipe.inpaint(np.zeros((FRAMES, 32, 32, 3), np.uint8), np.ones((SIZE, SIZE), bool))
    with pytest.raises(ValueError, match="exactly 9"):
        pipe.stylize(clip_frames(frames=5), "a box")
    with pytest.raises(ValueError, match="mask is empty"):
        pipe.inpaint(clip_frames(), np.zeros((SIZE, SIZE), bool))
    with pytest.raises(ValueError, match="border=9"):
        pipe.outpaint(clip_frames(), border=9)
    with pytest.raises(ValueError, match="needs 1.125 s"):
        pipe.audio_to_video(np.zeros(1000, np.float32))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a picture")
    with pytest.raises(MediaError, match="broken.png"):
        pipe.image_to_video(broken, "a box")
    incomplete = tmp_path / "incomplete"
    shutil.copytree(model_dir, incomplete)
    shutil.rmtree(incomplete / "audio_tokenizer")
    with pytest.raises(FileNotFoundError, match="audio_tokenizer"):
        VideoPoetPipeline.from_pretrained(incomplete)


def test_export_writes_a_playable_mp4_with_audio(pipe, tmp_path):
    result = pipe("a white circle growing", seed=1)
    path = export_to_video(result, tmp_path / "out.mp4")
    with av.open(str(path)) as container:
        assert container.streams.audio, "no audio stream"
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    assert len(frames) == FRAMES and frames[0].shape == (SIZE, SIZE, 3)


def test_generate_command(model_dir, tmp_path, capsys):
    out = tmp_path / "clip.mp4"
    assert main(["generate", "a big yellow box", "--model", str(model_dir), "-o", str(out), "--seed", "2", "--top-k", "4", "--preview", str(tmp_path / "p.gif")]) == 0
    assert "seed 2" in capsys.readouterr().out
    with av.open(str(out)) as container:
        assert container.streams.audio and sum(1 for _ in container.decode(video=0)) == FRAMES
    assert (tmp_path / "p.gif").is_file()
    source = tmp_path / "source.mp4"
    write_video(source, clip_frames(), 8)
    edited = tmp_path / "edited.mp4"
    assert main(["generate", "--video", str(source), "--border", "4", "--model", str(model_dir), "-o", str(edited), "--no-audio"]) == 0
    with av.open(str(edited)) as container:
        assert not container.streams.audio
    image = tmp_path / "image.png"
    assert main(["generate", "a red triangle", "--task", "text-to-image", "--model", str(model_dir), "-o", str(image)]) == 0
    assert Image.open(image).size == (SIZE, SIZE)


def test_generate_command_errors_leave_nothing_behind(model_dir, tmp_path, capsys):
    out = tmp_path / "never.mp4"
    (tmp_path / "broken.png").write_bytes(b"nope")
    for argv, message in [
        (["generate", "--model", str(model_dir)], "needs a prompt"),
        (["generate", "a box", "--image", str(tmp_path / "broken.png"), "--model", str(model_dir)], "broken.png"),
        (["generate", "a box", "--model", str(tmp_path / "missing")], "no such model directory"),
        (["generate", "a box", "--model", str(model_dir), "-o", str(tmp_path / "x.avi")], "cannot write .avi"),
        (["generate", "--story", str(tmp_path / "empty.txt"), "--model", str(model_dir)], "cannot read the story file"),
    ]:
        assert main([*argv, "-o", str(out)] if "-o" not in argv else argv) == 2
        assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [tmp_path / "broken.png"]


def test_eval_tasks_scores_every_task(world_pipe):
    from videopoet.eval_tasks import TASKS, evaluate_tasks, format_results, psnr, recoloured

    results = evaluate_tasks(world_pipe, TASKS, clips=1, split="compositional", progress=False)
    assert list(results) == list(TASKS)
    assert set(results["text_to_video"]) >= {"count", "colour", "shape", "size", "motion", "camera", "all_right"}
    for task, figures in results.items():
        for figure, value in figures.items():
            assert value >= 0 and (figure.endswith("psnr") or value <= 1), (task, figure, value)
    table = format_results(results)
    assert "| story | motion_followed |" in table and "≥ 25 dB" in table
    image = np.full((4, 4, 3), 100, np.uint8)
    assert psnr(image, image) == float("inf") and round(psnr(image, image + 1), 2) == 48.13
    from videopoet.world import parse

    scene = parse("a large red circle moving left and a small blue square bouncing")
    changed = recoloured(scene, np.random.default_rng(0))
    assert [obj.colour for obj in changed.objects] != ["red", "blue"] and not {"red", "blue"} & {obj.colour for obj in changed.objects}
    assert [(obj.shape, obj.motion) for obj in changed.objects] == [("circle", "left"), ("square", "bounce")]
    with pytest.raises(ValueError, match="unknown task"):
        evaluate_tasks(world_pipe, ("dancing",), clips=1)
    batched = evaluate_tasks(world_pipe, ("inpainting", "video_to_audio"), clips=3, batch_size=2, progress=False)
    assert set(batched) == {"inpainting", "video_to_audio"} and 0 <= batched["video_to_audio"]["audio_colour"] <= 1


def test_upscale_doubles_the_picture_and_keeps_the_rest(upscaling_dir, pipe):
    upscaling = VideoPoetPipeline.from_pretrained(upscaling_dir, progress=False, sampling=SamplingConfig(top_k=8))
    assert upscaling.superres is not None and pipe.superres is None
    result = upscaling("a red circle", seed=0)
    big = upscaling.upscale(result)
    assert big.frames.shape == (FRAMES, 2 * SIZE, 2 * SIZE, 3) and big.frames.dtype == np.uint8
    assert big.audio is result.audio and (big.seed, big.prompts, big.fps) == (result.seed, result.prompts, result.fps)
    assert np.array_equal(upscaling.upscale(result).frames, big.frames)  # no sampling: the same input, the same output
    assert np.array_equal(upscaling("a red circle", seed=0, upscale=True).frames, big.frames)
    long = upscaling.long_video("a red circle", seconds=3.0, audio=False, seed=1)  # 24 frames: three windows
    assert upscaling.upscale(long).frames.shape == (24, 2 * SIZE, 2 * SIZE, 3)
    pair = upscaling.upscale([result, upscaling.audio_to_video(result.audio, seed=2)])  # with and without a prompt
    assert [item.frames.shape for item in pair] == [(FRAMES, 2 * SIZE, 2 * SIZE, 3)] * 2
    with pytest.raises(ValueError, match="no super-resolution stage"):
        pipe.upscale(result)
    with pytest.raises(ValueError, match="frames of 32x32"):
        upscaling.upscale(big)
    with pytest.raises(ValueError, match="one shape"):
        upscaling.upscale([result, long])


def test_a_stage_for_larger_clips_gets_resized_frames_and_its_own_decoder(larger_stage_dir, upscaling_dir, model_dir, tmp_path):
    staged = VideoPoetPipeline.from_pretrained(larger_stage_dir, progress=False, sampling=SamplingConfig(top_k=8))
    assert staged.superres_decoder is not None and staged.upscaled_size == 4 * SIZE
    result = staged("a red circle", seed=0)
    big = staged.upscale(result)
    assert big.frames.shape == (FRAMES, 4 * SIZE, 4 * SIZE, 3)
    untrained = SuperResDecoder.from_tokenizer(staged.video_tokenizer, scale=2)
    # an explicit option wins over the directory's part: the untrained decoder is bicubic upsampling of the low grid's decode
    other = VideoPoetPipeline.from_pretrained(larger_stage_dir, progress=False, superres_decoder=untrained)
    assert other.superres_decoder is untrained and not np.array_equal(other.upscale(result).frames, big.frames)
    with pytest.raises(ValueError, match="stage without its decoder"):
        VideoPoetPipeline.from_pretrained(larger_stage_dir, superres_decoder=None)
    undecoded = tmp_path / "undecoded"
    shutil.copytree(larger_stage_dir, undecoded, ignore=shutil.ignore_patterns("superres_decoder"))
    with pytest.raises(FileNotFoundError, match="no 'superres_decoder' part"):
        VideoPoetPipeline.from_pretrained(undecoded)
    assert VideoPoetPipeline.from_pretrained(upscaling_dir, progress=False).upscaled_size == 2 * SIZE
    with pytest.raises(ValueError, match="decoder without a super-resolution stage"):
        VideoPoetPipeline.from_pretrained(model_dir, superres_decoder=staged.superres_decoder)
    with pytest.raises(TypeError, match="a SuperResDecoder .* not a VideoTokenizer"):
        VideoPoetPipeline.from_pretrained(larger_stage_dir, superres_decoder=staged.video_tokenizer)


def test_upscale_without_a_stage_is_refused_before_generating(pipe, monkeypatch):
    monkeypatch.setattr(pipe, "_videos", lambda *args, **kwargs: pytest.fail("generated before refusing"))
    with pytest.raises(ValueError, match="no super-resolution stage"):
        pipe("a red circle", upscale=True)


def test_generate_command_upscales(upscaling_dir, model_dir, tmp_path, capsys):
    output = tmp_path / "big.mp4"
    assert main(["generate", "a red circle", "--model", str(upscaling_dir), "--seed", "0", "--upscale", "--no-audio", "-o", str(output)]) == 0
    with av.open(str(output)) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert frame.shape == (2 * SIZE, 2 * SIZE, 3)
    refused = tmp_path / "refused.mp4"
    assert main(["generate", "a red circle", "--model", str(model_dir), "--upscale", "-o", str(refused)]) == 2
    assert "no super-resolution stage" in capsys.readouterr().err and not refused.exists()


def test_superres_examples_script_draws_four_rows_per_clip(larger_stage_dir, model_dir, tmp_path):
    """scripts/superres_examples.py on a model directory with a stage: four rows of four frames
    per clip, each at the stage's output size (the tokenizer's output shown enlarged, bicubic,
    the stage, the true render); refused without a stage, writing nothing."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "superres_examples.py"
    sheet = tmp_path / "sheet.png"
    run = subprocess.run([sys.executable, str(script), "--model", str(larger_stage_dir), "--clips", "2", "-o", str(sheet)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    with Image.open(sheet) as image:
        width, height = image.size
    high = 4 * SIZE  # the larger stage's output size
    assert width >= 4 * high and height >= 2 * 4 * high and f"wrote {sheet}" in run.stdout
    refused = subprocess.run([sys.executable, str(script), "--model", str(model_dir), "-o", str(tmp_path / "none.png")], capture_output=True, text=True, timeout=300)
    assert refused.returncode != 0 and "has no super-resolution stage" in refused.stderr and not (tmp_path / "none.png").exists()
