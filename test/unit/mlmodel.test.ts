import { parse } from 'yaml';
import {
  buildMlmodel, condaYaml, pythonEnvYaml, requirementsTxt, resolveTask, toYaml, tokenizerTypeOf, torchDtypeOf, utcTimeCreated,
} from '../../steps/mlflow/mlmodel';
import { artifactKeyFor, componentKeyFor, isTokenizerFile, layoutForTransformers, needsSentencepiece, tokenizerCopies } from '../../steps/mlflow/transformers-layout';

describe('artifact layout for mlflow.transformers', () => {
  it.each([
    ['config.json', 'model/config.json'],
    ['generation_config.json', 'model/generation_config.json'],
    ['model.safetensors', 'model/model.safetensors'],
    ['model-00001-of-00002.safetensors', 'model/model-00001-of-00002.safetensors'],
    ['pytorch_model.bin', 'model/pytorch_model.bin'],
    ['README.md', 'model/README.md'],
    ['modeling_custom.py', 'model/modeling_custom.py'],
    ['onnx/model.onnx', 'model/onnx/model.onnx'],
    ['original/tokenizer.model', 'model/original/tokenizer.model'],
    ['tokenizer.json', 'components/tokenizer/tokenizer.json'],
    ['tokenizer_config.json', 'components/tokenizer/tokenizer_config.json'],
    ['tokenizer.model', 'components/tokenizer/tokenizer.model'],
    ['special_tokens_map.json', 'components/tokenizer/special_tokens_map.json'],
    ['added_tokens.json', 'components/tokenizer/added_tokens.json'],
    ['vocab.json', 'components/tokenizer/vocab.json'],
    ['vocab.txt', 'components/tokenizer/vocab.txt'],
    ['merges.txt', 'components/tokenizer/merges.txt'],
    ['spiece.model', 'components/tokenizer/spiece.model'],
    ['sentencepiece.bpe.model', 'components/tokenizer/sentencepiece.bpe.model'],
    ['chat_template.jinja', 'components/tokenizer/chat_template.jinja'],
    ['additional_chat_templates/tool_use.jinja', 'components/tokenizer/additional_chat_templates/tool_use.jinja'],
    ['tokenization_custom.py', 'components/tokenizer/tokenization_custom.py'],
  ])('%s -> model/%s, component copy %s', (p, key) => {
    // model/model/ is the complete Hub snapshot; tokenizer files are also copied to the component.
    expect(artifactKeyFor(p)).toBe(`model/${p}`);
    expect(isTokenizerFile(p)).toBe(key.startsWith('components/'));
    if (isTokenizerFile(p)) expect(componentKeyFor(p)).toBe(key);
  });

  it('puts every file in model/ once and copies only the tokenizer files to components/tokenizer/', () => {
    const files = ['config.json', 'model.safetensors', 'tokenizer.json', 'vocab.json'].map((path) => ({ path, size: 10, sha256: 'x', lfs: false }));
    const layout = layoutForTransformers({ files });
    expect(layout.entries.map((e) => e.key)).toEqual([
      'model/config.json', 'model/model.safetensors', 'model/tokenizer.json', 'model/vocab.json',
      'components/tokenizer/tokenizer.json', 'components/tokenizer/vocab.json',
    ]);
    expect(layout.componentCopies.map((e) => e.copyOf)).toEqual(['model/tokenizer.json', 'model/vocab.json']);
    expect(layout.hasTokenizer).toBe(true);
    expect(layout.modelBytes).toBe(40);
    expect(layout.tokenizerBytes).toBe(20);
    expect(tokenizerCopies({ files })).toEqual(layout.componentCopies);
  });

  it('asks for sentencepiece when the tokenizer is a sentencepiece model without tokenizer.json', () => {
    const of = (...paths: string[]) => ({ files: paths.map((path) => ({ path, size: 1, sha256: 'x', lfs: false })) });
    expect(needsSentencepiece(of('config.json', 'tokenizer.model', 'tokenizer_config.json'))).toBe(true);
    expect(needsSentencepiece(of('config.json', 'spiece.model'))).toBe(true);
    // the fast tokenizer loads from tokenizer.json
    expect(needsSentencepiece(of('config.json', 'tokenizer.model', 'tokenizer.json'))).toBe(false);
    // a .model file that is not the model's tokenizer (in a subfolder)
    expect(needsSentencepiece(of('config.json', 'extra/tokenizer.model', 'vocab.json'))).toBe(false);
    expect(needsSentencepiece(of('config.json', 'vocab.json', 'merges.txt'))).toBe(false);
  });
});

describe('task', () => {
  it('takes --task over the Hub pipeline_tag and maps aliases', () => {
    expect(resolveTask('fill-mask', 'text-generation')).toEqual({ task: 'fill-mask', pipelineClass: 'FillMaskPipeline' });
    expect(resolveTask(undefined, 'text-generation')).toEqual({ task: 'text-generation', pipelineClass: 'TextGenerationPipeline' });
    expect(resolveTask('sentiment-analysis', undefined).task).toBe('text-classification');
    expect(resolveTask(undefined, 'sentence-similarity')).toEqual({ task: 'feature-extraction', pipelineClass: 'FeatureExtractionPipeline' });
    expect(resolveTask('translation_en_to_fr', undefined)).toEqual({ task: 'translation_en_to_fr', pipelineClass: 'TranslationPipeline' });
  });
  it('fails clearly without a task or with one transformers does not know', () => {
    expect(() => resolveTask(undefined, undefined)).toThrow(/no pipeline_tag and no --task/);
    expect(() => resolveTask(undefined, 'text-to-image')).toThrow(/not a transformers pipeline task/);
  });
});

describe('tokenizer type', () => {
  it('uses the Fast variant of tokenizer_class when tokenizer.json exists', () => {
    expect(tokenizerTypeOf({ tokenizer_class: 'GPT2Tokenizer' }, true)).toBe('GPT2TokenizerFast');
    expect(tokenizerTypeOf({ tokenizer_class: 'LlamaTokenizerFast' }, true)).toBe('LlamaTokenizerFast');
    expect(tokenizerTypeOf({ tokenizer_class: 'T5Tokenizer' }, false)).toBe('T5Tokenizer');
    expect(tokenizerTypeOf({ tokenizer_class: 'PreTrainedTokenizer' }, true)).toBe('PreTrainedTokenizerFast');
  });
  it('falls back to PreTrainedTokenizerFast / AutoTokenizer', () => {
    expect(tokenizerTypeOf(undefined, true)).toBe('PreTrainedTokenizerFast');
    expect(tokenizerTypeOf({}, false)).toBe('AutoTokenizer');
  });
});

describe('MLmodel', () => {
  const input = {
    repo: 'org/tiny-gpt',
    task: resolveTask('text-generation', undefined),
    config: { architectures: ['GPT2LMHeadModel'], transformers_version: '4.44.0', torch_dtype: 'float16' },
    tokenizerType: 'GPT2TokenizerFast',
    runId: 'abc123',
    modelId: 'm-0123456789abcdef',
    mlflowVersion: '3.18.0',
    pythonVersion: '3.11',
    modelSizeBytes: 1234,
    now: new Date('2024-05-01T12:34:56.789Z'),
    modelUuid: 'f'.repeat(32),
  };

  it('has the transformers and python_function flavors MLflow loads', () => {
    const m = parse(toYaml(buildMlmodel(input)));
    expect(m).toEqual({
      artifact_path: 'model',
      flavors: {
        python_function: {
          env: { conda: 'conda.yaml', virtualenv: 'python_env.yaml' },
          loader_module: 'mlflow.transformers',
          python_version: '3.11',
        },
        transformers: {
          task: 'text-generation',
          instance_type: 'TextGenerationPipeline',
          pipeline_model_type: 'GPT2LMHeadModel',
          source_model_name: 'org/tiny-gpt',
          framework: 'pt',
          model_binary: 'model',
          components: ['tokenizer'],
          tokenizer_type: 'GPT2TokenizerFast',
          torch_dtype: 'torch.float16',
          transformers_version: '4.44.0',
          code: null,
        },
      },
      mlflow_version: '3.18.0',
      model_uuid: 'f'.repeat(32),
      run_id: 'abc123',
      utc_time_created: '2024-05-01 12:34:56.789000',
      model_id: 'm-0123456789abcdef',
      model_size_bytes: 1234,
    });
  });

  it('never records source_model_revision (that makes MLflow fetch from the Hub)', () => {
    expect(toYaml(buildMlmodel(input))).not.toContain('source_model_revision');
  });

  it('omits components without a tokenizer and needs architectures', () => {
    const m = buildMlmodel({ ...input, tokenizerType: undefined }) as { flavors: { transformers: Record<string, unknown> } };
    expect(m.flavors.transformers.components).toEqual([]);
    expect(m.flavors.transformers.tokenizer_type).toBeUndefined();
    expect(() => buildMlmodel({ ...input, config: {} })).toThrow(/architectures/);
  });

  it('maps config dtypes to torch.* and ignores "auto"', () => {
    expect(torchDtypeOf({ torch_dtype: 'bfloat16' })).toBe('torch.bfloat16');
    expect(torchDtypeOf({ dtype: 'float32' })).toBe('torch.float32');
    expect(torchDtypeOf({ torch_dtype: 'auto' })).toBeUndefined();
  });

  it('formats utc_time_created like Python str(datetime)', () => {
    expect(utcTimeCreated(new Date('2024-01-02T03:04:05.006Z'))).toBe('2024-01-02 03:04:05.006000');
  });

  it('writes env files that parse back', () => {
    const req = requirementsTxt({ mlflowVersion: '3.18.0', transformersVersion: '4.44.0', needsSentencepiece: true });
    expect(req.split('\n')).toEqual(['mlflow==3.18.0', 'transformers>=4.44.0', 'torch', 'accelerate', 'sentencepiece', '']);
    expect(parse(condaYaml('3.11', req))).toEqual({
      channels: ['conda-forge'],
      dependencies: ['python=3.11', 'pip', { pip: ['mlflow==3.18.0', 'transformers>=4.44.0', 'torch', 'accelerate', 'sentencepiece'] }],
      name: 'mlflow-env',
    });
    expect(parse(pythonEnvYaml('3.11'))).toEqual({ python: '3.11', build_dependencies: ['pip', 'setuptools', 'wheel'], dependencies: ['-r requirements.txt'] });
  });

  it('quotes strings YAML would read as something else', () => {
    const tricky = { a: 'true', b: '3.11', c: 'null', d: 'x: y', e: '#c', f: '', g: "it's", h: 'line\nbreak', i: '-r x', j: [[1, 'a'], {}], k: 'ünïcode' };
    expect(parse(toYaml(tricky))).toEqual(tricky);
  });
});
