// The MLmodel file (and its env files) for a mirrored transformers checkpoint, built from the
// repo's own config files — no Python, no weights loaded. Field names follow mlflow.transformers'
// FlavorKey and mlflow.pyfunc.add_to_model.
import { randomUUID } from 'node:crypto';
import { ExitCode, UserError } from '../common/errors';
import { MODEL_ARTIFACT_PATH, MODEL_BINARY_DIR } from './transformers-layout';

/** transformers pipeline task -> pipeline class (transformers.pipelines.SUPPORTED_TASKS). */
export const PIPELINE_CLASS_FOR_TASK: Readonly<Record<string, string>> = {
  'text-generation': 'TextGenerationPipeline',
  'text2text-generation': 'Text2TextGenerationPipeline',
  summarization: 'SummarizationPipeline',
  translation: 'TranslationPipeline',
  'text-classification': 'TextClassificationPipeline',
  'token-classification': 'TokenClassificationPipeline',
  'question-answering': 'QuestionAnsweringPipeline',
  'table-question-answering': 'TableQuestionAnsweringPipeline',
  'fill-mask': 'FillMaskPipeline',
  'feature-extraction': 'FeatureExtractionPipeline',
  'zero-shot-classification': 'ZeroShotClassificationPipeline',
  'automatic-speech-recognition': 'AutomaticSpeechRecognitionPipeline',
  'audio-classification': 'AudioClassificationPipeline',
  'zero-shot-audio-classification': 'ZeroShotAudioClassificationPipeline',
  'text-to-audio': 'TextToAudioPipeline',
  'image-classification': 'ImageClassificationPipeline',
  'image-feature-extraction': 'ImageFeatureExtractionPipeline',
  'image-segmentation': 'ImageSegmentationPipeline',
  'image-to-image': 'ImageToImagePipeline',
  'image-to-text': 'ImageToTextPipeline',
  'image-text-to-text': 'ImageTextToTextPipeline',
  'object-detection': 'ObjectDetectionPipeline',
  'zero-shot-image-classification': 'ZeroShotImageClassificationPipeline',
  'zero-shot-object-detection': 'ZeroShotObjectDetectionPipeline',
  'depth-estimation': 'DepthEstimationPipeline',
  'mask-generation': 'MaskGenerationPipeline',
  'video-classification': 'VideoClassificationPipeline',
  'visual-question-answering': 'VisualQuestionAnsweringPipeline',
  'document-question-answering': 'DocumentQuestionAnsweringPipeline',
};

/** Hub pipeline tags / transformers aliases -> the transformers task name. */
const TASK_ALIASES: Readonly<Record<string, string>> = {
  'sentiment-analysis': 'text-classification',
  ner: 'token-classification',
  'text-to-speech': 'text-to-audio',
  'sentence-similarity': 'feature-extraction',
  vqa: 'visual-question-answering',
};

export interface ResolvedTask {
  readonly task: string;
  readonly pipelineClass: string;
}

/** `--task` else the Hub's pipeline_tag; a clear error when neither names a transformers pipeline. */
export function resolveTask(flag: string | undefined, pipelineTag: string | undefined): ResolvedTask {
  const raw = (flag ?? '').trim() || (pipelineTag ?? '').trim();
  if (!raw) {
    throw new UserError('Cannot tell the model\'s task: the Hub gave no pipeline_tag and no --task was passed', {
      exitCode: ExitCode.Usage,
      hint: `Pass --task, one of: ${Object.keys(PIPELINE_CLASS_FOR_TASK).join(', ')}.`,
    });
  }
  let task = TASK_ALIASES[raw] ?? raw;
  if (/^translation_[a-z]{2,3}_to_[a-z]{2,3}$/.test(task)) task = raw; // keep the language pair
  const pipelineClass = PIPELINE_CLASS_FOR_TASK[task] ?? (task.startsWith('translation_') ? 'TranslationPipeline' : undefined);
  if (!pipelineClass) {
    throw new UserError(`Task '${raw}'${flag ? '' : ' (the Hub\'s pipeline_tag)'} is not a transformers pipeline task mlflow.transformers can load`, {
      exitCode: ExitCode.Usage,
      hint: `Pass --task, one of: ${Object.keys(PIPELINE_CLASS_FOR_TASK).join(', ')}.`,
    });
  }
  return { task, pipelineClass };
}

export interface HfConfig {
  readonly architectures?: readonly string[];
  readonly model_type?: string;
  readonly transformers_version?: string;
  readonly torch_dtype?: string;
  readonly dtype?: string;
}

export interface HfTokenizerConfig {
  readonly tokenizer_class?: string;
}

const TORCH_DTYPES = new Set(['float16', 'bfloat16', 'float32', 'float64', 'half', 'float', 'double', 'int8', 'uint8', 'float8_e4m3fn', 'float8_e5m2']);

export function torchDtypeOf(config: HfConfig): string | undefined {
  const raw = (config.torch_dtype ?? config.dtype ?? '').replace(/^torch\./, '');
  return TORCH_DTYPES.has(raw) ? `torch.${raw}` : undefined;
}

/**
 * The tokenizer class mlflow.transformers instantiates (`getattr(transformers, tokenizer_type)`):
 * tokenizer_config.json's tokenizer_class, as its Fast variant when tokenizer.json is present
 * (what AutoTokenizer would load); without a class, PreTrainedTokenizerFast (reads tokenizer.json
 * alone) or AutoTokenizer. An unknown (remote-code) class makes MLflow fall back to AutoTokenizer.
 */
export function tokenizerTypeOf(tokConfig: HfTokenizerConfig | undefined, hasTokenizerJson: boolean): string {
  const cls = tokConfig?.tokenizer_class?.trim();
  if (cls && /^[A-Za-z_]\w*$/.test(cls)) {
    if (hasTokenizerJson && !cls.endsWith('Fast') && cls !== 'PreTrainedTokenizer') return `${cls}Fast`;
    if (cls === 'PreTrainedTokenizer' && hasTokenizerJson) return 'PreTrainedTokenizerFast';
    return cls;
  }
  return hasTokenizerJson ? 'PreTrainedTokenizerFast' : 'AutoTokenizer';
}

export interface MlmodelInput {
  readonly repo: string;
  readonly task: ResolvedTask;
  readonly config: HfConfig;
  /** undefined when the repo has no tokenizer files. */
  readonly tokenizerType?: string;
  readonly runId: string;
  readonly modelId?: string;
  readonly mlflowVersion: string;
  /** e.g. "3.11" */
  readonly pythonVersion: string;
  readonly modelSizeBytes?: number;
  readonly now?: Date;
  readonly modelUuid?: string;
  /** Extra `metadata` entries (provenance). */
  readonly metadata?: Record<string, string>;
}

/** MLmodel as a plain object (serialize with toYaml). */
export function buildMlmodel(input: MlmodelInput): Record<string, unknown> {
  const arch = input.config.architectures?.[0];
  if (!arch) {
    throw new UserError(`${input.repo}: config.json has no 'architectures', so mlflow.transformers cannot tell which model class to load`, {
      exitCode: ExitCode.Usage,
      hint: 'Only transformers checkpoints (config.json with architectures) can be registered with the transformers flavor.',
    });
  }
  const transformersFlavor: Record<string, unknown> = {
    task: input.task.task,
    instance_type: input.task.pipelineClass,
    pipeline_model_type: arch,
    source_model_name: input.repo,
    framework: 'pt',
    model_binary: MODEL_BINARY_DIR,
    components: input.tokenizerType ? ['tokenizer'] : [],
  };
  if (input.tokenizerType) transformersFlavor.tokenizer_type = input.tokenizerType;
  const dtype = torchDtypeOf(input.config);
  if (dtype) transformersFlavor.torch_dtype = dtype;
  if (input.config.transformers_version) transformersFlavor.transformers_version = input.config.transformers_version;
  transformersFlavor.code = null;

  const out: Record<string, unknown> = {
    artifact_path: MODEL_ARTIFACT_PATH,
    flavors: {
      python_function: {
        env: { conda: 'conda.yaml', virtualenv: 'python_env.yaml' },
        loader_module: 'mlflow.transformers',
        python_version: input.pythonVersion,
      },
      transformers: transformersFlavor,
    },
    mlflow_version: input.mlflowVersion,
    model_uuid: input.modelUuid ?? randomUUID().replace(/-/g, ''),
    run_id: input.runId,
    utc_time_created: utcTimeCreated(input.now ?? new Date()),
  };
  if (input.modelId) out.model_id = input.modelId;
  if (input.modelSizeBytes !== undefined) out.model_size_bytes = input.modelSizeBytes;
  if (input.metadata && Object.keys(input.metadata).length) out.metadata = { ...input.metadata };
  return out;
}

/** Python's str(datetime.utcnow()): `2024-05-01 12:34:56.789000`. */
export function utcTimeCreated(d: Date): string {
  return `${d.toISOString().replace('T', ' ').replace('Z', '')}000`;
}

export interface RequirementsInput {
  readonly mlflowVersion: string;
  readonly transformersVersion?: string;
  /** Sentencepiece-based slow tokenizer without tokenizer.json. */
  readonly needsSentencepiece?: boolean;
}

export function requirementsTxt(input: RequirementsInput): string {
  const reqs = [
    `mlflow==${input.mlflowVersion}`,
    input.transformersVersion && /^\d+\.\d+/.test(input.transformersVersion) ? `transformers>=${input.transformersVersion}` : 'transformers',
    'torch',
    'accelerate',
  ];
  if (input.needsSentencepiece) reqs.push('sentencepiece');
  return reqs.join('\n') + '\n';
}

export function condaYaml(pythonVersion: string, requirements: string): string {
  const pip = requirements.split('\n').filter(Boolean);
  return toYaml({
    channels: ['conda-forge'],
    dependencies: [`python=${pythonVersion}`, 'pip', { pip }],
    name: 'mlflow-env',
  });
}

export function pythonEnvYaml(pythonVersion: string): string {
  return toYaml({
    python: pythonVersion,
    build_dependencies: ['pip', 'setuptools', 'wheel'],
    dependencies: ['-r requirements.txt'],
  });
}

// --- a minimal YAML emitter (block style) for the plain data above ---------------------------

const PLAIN_SAFE = /^[A-Za-z0-9_./][A-Za-z0-9_./ +=<>-]*$/;
const YAML_SPECIAL = /^(true|false|yes|no|on|off|null|~|y|n)$/i;

function scalar(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : JSON.stringify(String(v));
  const s = String(v);
  // Plain only when it cannot be read back as anything but this string.
  if (PLAIN_SAFE.test(s) && !YAML_SPECIAL.test(s) && !/^[-+.]?\d/.test(s) && !s.endsWith(' ') && !/ [#:]|: /.test(s)) return s;
  return JSON.stringify(s); // a JSON string is a valid YAML double-quoted scalar
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function emit(v: unknown, indent: string, lines: string[]): void {
  if (isPlainObject(v)) {
    for (const [k, val] of Object.entries(v)) {
      if (val === undefined) continue;
      const key = scalar(k);
      if (isPlainObject(val) && Object.keys(val).length) {
        lines.push(`${indent}${key}:`);
        emit(val, `${indent}  `, lines);
      } else if (Array.isArray(val) && val.length) {
        lines.push(`${indent}${key}:`);
        emit(val, indent, lines);
      } else if (isPlainObject(val) || Array.isArray(val)) {
        lines.push(`${indent}${key}: ${Array.isArray(val) ? '[]' : '{}'}`);
      } else {
        lines.push(`${indent}${key}: ${scalar(val)}`);
      }
    }
    return;
  }
  if (Array.isArray(v)) {
    for (const item of v) {
      if (isPlainObject(item) || (Array.isArray(item) && item.length)) {
        const sub: string[] = [];
        emit(item, `${indent}  `, sub);
        if (sub.length === 0) {
          lines.push(`${indent}- {}`);
          continue;
        }
        lines.push(`${indent}- ${sub[0].slice(indent.length + 2)}`);
        lines.push(...sub.slice(1));
      } else {
        lines.push(`${indent}- ${Array.isArray(item) ? '[]' : scalar(item)}`);
      }
    }
    return;
  }
  lines.push(`${indent}${scalar(v)}`);
}

/** YAML for nested plain objects/arrays/scalars (keys in insertion order). */
export function toYaml(value: unknown): string {
  const lines: string[] = [];
  emit(value, '', lines);
  return lines.join('\n') + '\n';
}
