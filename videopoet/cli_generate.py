"""`videopoet generate`: every task of a pipeline from the command line.

    videopoet generate "a large red circle moving left" -o out.mp4
    videopoet generate "a small blue square bouncing" --image first.png -o out.mp4
    videopoet generate --video clip.mp4 --seconds 3 -o longer.mp4               (continuation)
    videopoet generate "a big red ball" --video clip.mp4 --mask hole.png -o filled.mp4
    videopoet generate --video clip.mp4 --border 8 -o wider.mp4                  (outpainting)
    videopoet generate "a green triangle" --video clip.mp4 --task stylize -o styled.mp4
    videopoet generate --video clip.mp4 --task video-to-audio -o with_sound.mp4
    videopoet generate --audio sound.wav -o out.mp4                              (audio-to-video)
    videopoet generate "a yellow box falling" --seconds 10 -o long.mp4           (long video)
    videopoet generate --story prompts.txt -o story.mp4                          (one prompt a line)
    videopoet generate "a red triangle" --task text-to-image -o image.png
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from .io.write import MP4_SUFFIXES
from .world.spec import FPS

if TYPE_CHECKING:
    from .pipeline import VideoPoetPipeline

TASKS = (
    "auto",
    "text-to-video",
    "text-to-image",
    "image-to-video",
    "continue",
    "long",
    "story",
    "inpaint",
    "outpaint",
    "stylize",
    "video-to-audio",
    "audio-to-video",
)


def add_generate_parser(commands) -> None:
    generate = commands.add_parser(
        "generate", help="generate a video (or image, or soundtrack) with a trained pipeline", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    generate.add_argument("prompt", nargs="?", help="what the video shows (objects, motions, camera)")
    generate.add_argument("-o", "--output", default="out.mp4", help=".mp4/.mov/.m4v (with audio), .gif, or .png for text-to-image")
    generate.add_argument("--task", choices=TASKS, default="auto", help="auto picks the task from the inputs given")
    generate.add_argument("--image", help="first frame for image-to-video")
    generate.add_argument("--video", help="source video: continue it, or with --mask/--border/--task stylize edit it")
    generate.add_argument("--mask", help="with --video: image, white where to fill (inpainting)")
    generate.add_argument("--border", type=int, help="with --video: regenerate this many pixels at each edge (outpainting)")
    generate.add_argument("--audio", help="sound file for audio-to-video")
    generate.add_argument("--story", help="text file, one prompt per line: one segment each")
    generate.add_argument("--seconds", type=float, help="length: more than one clip makes a long video; with --video, seconds to add")
    generate.add_argument("--no-audio", action="store_true", help="do not generate a soundtrack")
    generate.add_argument("--seed", type=int, help="random seed (printed when not given, so a result can be reproduced)")
    add_sampling_arguments(generate)
    generate.add_argument("--model", help="pipeline directory (default: the shipped Shapes World model)")
    generate.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda, ...")
    generate.add_argument("--preview", help="also write a preview: .gif (animated) or .png (contact sheet)")
    generate.add_argument("--upscale", action="store_true", help="run the model's token super-resolution stage on the result")
    generate.set_defaults(run=run_generate)


def add_sampling_arguments(parser: argparse.ArgumentParser) -> None:
    """--guidance, --temperature, --top-k, --top-p: overrides of the pipeline's sampling."""
    parser.add_argument("--guidance", type=float, help="classifier-free guidance scale for every task (1 = none; default: 4, and 3 for inpainting, outpainting and soundtracks)")
    parser.add_argument("--temperature", type=float, help="for every task (0 = greedy; default: 1, and 0 for inpainting, outpainting and audio-to-video)")
    parser.add_argument("--top-k", type=int)
    parser.add_argument("--top-p", type=float)


def apply_sampling_arguments(args: argparse.Namespace, pipe: VideoPoetPipeline) -> None:
    """Set the sampling options given on the command line as `pipe`'s defaults, each for every
    task (the per-task defaults of that option included)."""
    options = {"guidance_scale": args.guidance, "temperature": args.temperature, "top_k": args.top_k, "top_p": args.top_p}
    given = {name: value for name, value in options.items() if value is not None}
    pipe.sampling = replace(pipe.sampling, **given)
    remaining = {task: {name: value for name, value in fields.items() if name not in given} for task, fields in pipe.task_sampling.items()}
    pipe.task_sampling = {task: fields for task, fields in remaining.items() if fields}


def choose_task(args: argparse.Namespace) -> str:
    """The task the given inputs ask for (`--task auto`), or a ValueError saying what is missing."""
    task = args.task
    if task == "auto":
        if args.story:
            task = "story"
        elif args.image:
            task = "image-to-video"
        elif args.audio:
            task = "audio-to-video"
        elif args.video:
            task = "inpaint" if args.mask else "outpaint" if args.border is not None else "stylize" if args.prompt else "continue"
        else:
            task = "text-to-video"
    needs = {
        "image-to-video": ["image", "prompt"],
        "continue": ["video"],
        "story": ["story"],
        "inpaint": ["video", "mask"],
        "outpaint": ["video", "border"],
        "stylize": ["video", "prompt"],
        "video-to-audio": ["video"],
        "audio-to-video": ["audio"],
        "text-to-video": ["prompt"],
        "text-to-image": ["prompt"],
        "long": ["prompt"],
    }[task]
    missing = [name for name in needs if getattr(args, name) in (None, "")]
    if missing:
        raise ValueError(f"{task} needs {' and '.join('a prompt' if name == 'prompt' else '--' + name for name in missing)}")
    return task


def _check_output(path: Path, task: str) -> None:
    suffix = path.suffix.lower()
    allowed = MP4_SUFFIXES + (".gif",) + ((".png",) if task == "text-to-image" else ())
    if suffix not in allowed:
        raise ValueError(f"{path}: cannot write {suffix or 'a file without a suffix'} for {task}; use {', '.join(allowed)}")
    if path.is_dir():
        raise ValueError(f"{path}: is a folder")


def _read_story(path: str) -> list[str]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: cannot read the story file ({error})") from error
    prompts = [line.strip() for line in lines if line.strip()]
    if not prompts:
        raise ValueError(f"{path}: the story file has no prompt (one per line)")
    return prompts


def run_generate(args: argparse.Namespace) -> int:

    import torch

    from .io import save_contact_sheet
    from .io.write import save_image, write_gif
    from .pipeline import VideoPoetPipeline, export_to_video

    task = choose_task(args)
    output = Path(args.output)
    _check_output(output, task)
    if args.preview and Path(args.preview).suffix.lower() not in (".gif", ".png"):
        raise ValueError(f"--preview {args.preview}: use .gif or .png")
    story = _read_story(args.story) if task == "story" else None
    device = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    pipe = VideoPoetPipeline.from_pretrained(args.model, device=device)
    if args.upscale and pipe.superres is None:
        raise ValueError(f"--upscale: the model {args.model or 'shipped with the package'} has no super-resolution stage (superres/)")
    apply_sampling_arguments(args, pipe)
    options = {"seed": args.seed}
    audio = not args.no_audio
    clip_seconds = pipe.frames / FPS
    if task == "text-to-video":
        if args.seconds is not None and args.seconds > clip_seconds:
            task = "long"
        else:
            result = pipe.text_to_video(args.prompt, audio=audio, **options)
    if task == "long":
        result = pipe.long_video(args.prompt, seconds=args.seconds or 10.0, audio=audio, **options)
    elif task == "text-to-image":
        result = pipe.text_to_image(args.prompt, **options)
    elif task == "image-to-video":
        result = pipe.image_to_video(args.image, args.prompt, audio=audio, **options)
    elif task == "continue":
        result = pipe.continue_video(args.video, seconds=args.seconds or 1.5, audio=audio, **options)
    elif task == "story":
        result = pipe.story(story, audio=audio, **options)
    elif task == "inpaint":
        result = pipe.inpaint(args.video, args.mask, args.prompt or "", audio=audio, **options)
    elif task == "outpaint":
        result = pipe.outpaint(args.video, args.border, args.prompt or "", audio=audio, **options)
    elif task == "stylize":
        result = pipe.stylize(args.video, args.prompt, audio=audio, **options)
    elif task == "video-to-audio":
        result = pipe.video_to_audio(args.video, **options)
    elif task == "audio-to-video":
        result = pipe.audio_to_video(args.audio, **options)
    if args.upscale:
        result = pipe.upscale(result)
    if output.suffix.lower() == ".png":
        save_image(output, result.frames[0])
    else:
        export_to_video(result, output)
    if args.preview:
        if args.preview.lower().endswith(".gif"):
            write_gif(args.preview, result.frames, result.fps)
        else:
            save_contact_sheet(args.preview, [result.frames], [" / ".join(result.prompts) or result.task])
    sound = f", {result.audio.shape[0] / result.sample_rate:.2f} s of audio" if result.audio is not None else ""
    print(f"wrote {output}: {result.frames.shape[0]} frames at {result.fps:g} fps{sound} ({result.task}, seed {result.seed})")
    return 0
