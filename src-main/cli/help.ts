/**
 * What `lora-lab --help`, `lora-lab COMMAND --help` (or `-h`, or `lora-lab help COMMAND`)
 * and `--version` print. Help never opens the database: it is answered before a session
 * exists, so it works on a fresh install and next to a damaged database.
 */

export const GENERAL_HELP = `lora-lab — LoRA fine-tuning experiments on MNIST and data sets of your own

Usage: lora-lab <command> [options]
       lora-lab <command> --help     usage, options and an example of one command
       lora-lab --version

Commands:
  demo        the classic experiment: base MLP one epoch, rank-1 LoRA on digit 7, before/after table
  train       train a base MLP (--data NAME: on another data set)
  finetune    LoRA fine-tune a stored base model (--finetune-from ID, default: the newest model; --full: every weight)
  data        data sets: import PATH (CSV, IDX, image folders), add fashion-mnist, list, show, rm
  runs        list stored runs (--status, --kind, --data, --tag, --search TEXT, --param lora.r=1)
  show RUN    one run: config, metrics, evaluation before/after
  compare RUN RUN...   hyperparameter differences (--all for every row), metrics, wrong per class
  rm RUN...   delete runs (their metrics, evaluations and adapters go too)
  tag RUN TAG...       add tags (--remove to take them off)
  models      list stored models
  sweep create (--finetune-from MODEL | --kind base | --from-run RUN) --grid PATH=V1,V2,... [--random PATH=DIST]
              [--seeds K] [--trials N] [--budget N] [--concurrency N] [--prune asha:METRIC] [--detach] [run options]
              many runs: a grid or random points over config paths, each over K seeds; a group table at the end
  sweep list|show ID|cancel ID|resume ID|rm ID   stored sweeps, one in full (points, groups, importance, best point)
  groups (RUN... | --sweep ID) [--by PATH,...]   runs grouped by config minus the seed: n, mean ± std of every figure
  merge --adapter ID[:W] ... [--method M] [--rank K] [--density D] [--majority-sign total|frequency]
              [--seed N] [--save NAME --as model|adapter]   (lora-lab help merge: every method)
              preview (accuracy, wrong per class) of combined adapters, optionally saved
  export ID --format safetensors|peft|tfjs|csv|json --out PATH [--merged] [--force]
              ID: a run (5 or r5), a model (m3) or an adapter (a2); several runs: a comparison
  import PATH [--as model|adapter] [--base MODEL] [--name NAME]
              safetensors base weights (PyTorch layout) or a PEFT adapter folder
  evaluate MODEL       accuracy and wrong per class of a stored model
  analyze ADAPTER [--vs ADAPTER] [--intruders K,EPS]   what an adapter (or full fine-tune) learned, per layer: ΔW's singular
              values, effective/stable/90% ranks, amplification, intruder dimensions; φ against --vs
  forgetting (RUN... | --sweep ID)   learning against forgetting: focus accuracy gained vs other accuracy lost, Pareto front
  worker --redis URL [--concurrency N] [--name NAME]   train runs a host queues on Redis (BullMQ), on this machine
  serve       web mode: the app in your browser (--port N, --host H, --open, --concurrency N);
              a --host other than loopback needs --allow-remote (the token URL then drives the lab)

${runOptions()}

Every command takes --db FILE (default: $LORA_LAB_DB, else $XDG_DATA_HOME/lora-lab/lab.db)
and --json; --reset-db keeps a damaged database aside (renamed) and starts a fresh one. Environment: LORA_LAB_BACKEND forces a backend; LORA_LAB_MNIST_DIR points at other IDX files;
LORA_LAB_FASHION_DIR at another copy of the fashion-mnist package's src/clothes.`;

function runOptions(kind: 'train' | 'finetune' | 'demo' | 'all' = 'all'): string {
  const lora = kind !== 'train';
  return [
    `Run options${kind === 'all' ? ' (train, finetune, demo)' : ''}:`,
    '  --seed N              random seed (0)',
    '  --batch-size N        batch size (10)',
    '  --epochs N            epochs over the training subset (1)',
    `  --steps N             stop after N optimizer steps${kind === 'train' ? ' (default: the whole epochs)' : kind === 'all' ? ' (finetune/demo: 100)' : ' (100)'}; --max-steps N: the same`,
    '  --lr X                learning rate (0.001)',
    '  --optimizer adam|sgd  optimizer (adam)',
    kind === 'finetune'
      ? '  --data NAME|ID        the data set (default: the one the base model was trained on); another one of\n                        the same shape is a domain shift. fashion-mnist is added on first use'
      : '  --data NAME|ID        the data set (mnist); fashion-mnist is added on first use (lora-lab data list)',
    `  --classes C[,C...]    train only on these classes, by name or index (${
      kind === 'train' ? 'all' : kind === 'demo' ? 'MNIST: 7; elsewhere: the class the base gets wrong most often' : kind === 'all' ? 'finetune/demo on MNIST: 7; train: all' : 'MNIST: 7; elsewhere: all'
    })`,
    '  --digits 7[,3...]     MNIST\'s name for --classes',
    ...(kind === 'finetune'
      ? ['  --hidden W,... / --sizes 784,...,10   layer widths (default: the base model\'s; different ones are refused)']
      : [
          '  --hidden W[,W...]     hidden widths; input and output follow the data set (1000,2000)',
          '  --sizes 784,1000,2000,10   every width, input first (must fit the data set)',
        ]),
    ...(lora
      ? [
          '  --rank N --alpha X    LoRA rank and alpha (1, 1)',
          '  --targets linear1,... LoRA target layers (all)',
          `  --variant lora|dora   lora: W0 + s·B·A; dora: DoRA, a trained magnitude per output row over the\n                        normalised W0 + s·B·A (lora)`,
          `  --init kaiming|gaussian|pissa|olora   how A and B start (${kind === 'demo' ? 'gaussian' : kind === 'all' ? 'finetune: kaiming; demo: gaussian' : 'kaiming'}):\n                        kaiming, gaussian: A drawn, B = 0; pissa (SVD) / olora (QR): A and B from the\n                        base weight's top r, the base training as the residual`,
          '  --freeze-a            LoRA-FA: A stays as initialised, only B trains (--no-freeze-a: A trains)',
          '  --rslora              scaling alpha/√r instead of alpha/r',
          '  --lora-plus RATIO     LoRA+: B learns at RATIO × lr',
        ]
      : []),
    '  --train-limit N --test-limit N   use fewer samples (quick checks)',
    '  --backend cuda|tensorflow|webgpu|wasm|cpu   force a compute backend',
    ...(kind === 'all' ? [] : [`  --name NAME           the run's name${kind === 'demo' ? '' : ' (default: from its widths, classes, data set and seed)'}`]),
    '  --json                print one JSON object instead of a table',
    '  -q, --quiet           no progress bar',
  ].join('\n');
}

const COMMON = `  --db FILE             the database (default: $LORA_LAB_DB, else $XDG_DATA_HOME/lora-lab/lab.db)
  --reset-db            keep a damaged database aside (renamed) and start a fresh one
  -h, --help            this help`;

const JSON_FLAG = '  --json                print one JSON value instead of a table';

interface CommandHelp {
  usage: string;
  about: string;
  options: string;
  examples: string[];
}

const HELP: Record<string, CommandHelp> = {
  demo: {
    usage: 'lora-lab demo [run options] [--base-steps N] [--base-epochs N]',
    about:
      'The classic experiment: train the base MLP one epoch, fine-tune rank-1 LoRA on digit 7 for 100 batches,\nand print the wrong count per digit before and after. Both runs are stored. With --data, the same on another\ndata set: the fine-tune takes --classes, else the class the base model gets wrong most often.',
    options: `${runOptions('demo')}\n  --base-steps N --base-epochs N   length of the base training (the whole epoch)`,
    examples: ['lora-lab demo', 'lora-lab demo --seed 3 --json', 'lora-lab demo --data fashion-mnist --classes Shirt'],
  },
  train: {
    usage: 'lora-lab train [run options]',
    about: 'Train a base MLP on a data set (MNIST unless --data); the run and the model it makes are stored.\nUnnamed, the run is named after its widths, data set and seed.',
    options: runOptions('train'),
    examples: [
      'lora-lab train --sizes 784,100,10 --epochs 1',
      'lora-lab train --steps 200 --train-limit 2000 --test-limit 500',
      'lora-lab train --data fashion-mnist --hidden 256,128',
      'lora-lab train --data iris --hidden 16 --epochs 20',
    ],
  },
  finetune: {
    usage: 'lora-lab finetune [--finetune-from MODEL] [--full] [run options]',
    about:
      'LoRA fine-tune a stored base model (its layer widths are used); the run and its adapter are stored.\nOn another data set than the base was trained on (same widths), it says so: a domain shift.\nWith --full every weight trains instead (the same data, steps and optimizer): the baseline LoRA is set\nagainst; the result is stored as a model whose parent is the base (lora-lab analyze takes its W − W0).',
    options: `  --finetune-from MODEL a model id (3 or m3) or "latest" (default: the newest model; with --data, the newest\n                        model trained on that data set)\n  --full                full fine-tuning: every weight trains, no adapter (LoRA options do not apply)\n${runOptions('finetune')}`,
    examples: [
      'lora-lab finetune --digits 7 --rank 1 --steps 100',
      'lora-lab finetune --finetune-from m2 --digits 3,8 --rank 4 --alpha 8',
      'lora-lab finetune --data fashion-mnist --classes Shirt,Pullover --rank 2',
      'lora-lab finetune --finetune-from m1 --data fashion-mnist --classes all',
      'lora-lab finetune --variant dora --init pissa --freeze-a --rank 2',
      'lora-lab finetune --full --digits 7 --steps 100',
    ],
  },
  runs: {
    usage: 'lora-lab runs [--status S[,S...]] [--kind base|lora|full] [--data NAME|ID] [--tag TAG] [--search TEXT] [--param PATH=VALUE ...]',
    about: 'List stored runs, newest first.',
    options: `  --status S            queued, running, completed, failed, cancelled, interrupted (comma-separated)
  --kind base|lora|full only base runs, LoRA runs or full fine-tunes
  --data NAME|ID        only runs on this data set
  --tag TAG             only runs with this tag
  --search TEXT         name, notes or tags contain TEXT
  --param PATH=VALUE    config value, e.g. lora.r=1 or lr=0.001 (repeatable)
${JSON_FLAG}`,
    examples: ['lora-lab runs --kind lora --status completed', 'lora-lab runs --data fashion-mnist', 'lora-lab runs --param lora.r=1 --json'],
  },
  show: {
    usage: 'lora-lab show RUN',
    about: 'One run: its data set, config, summary, metrics and wrong per class before/after. RUN is its id (5 or r5).',
    options: JSON_FLAG,
    examples: ['lora-lab show 2', 'lora-lab show r2 --json'],
  },
  compare: {
    usage: 'lora-lab compare RUN RUN...',
    about: 'Runs side by side: the hyperparameters that differ, final metrics, and wrong per class.',
    options: `  --all                 every hyperparameter, not only those that differ\n${JSON_FLAG}`,
    examples: ['lora-lab compare 1 2 3', 'lora-lab compare 2 3 --all'],
  },
  rm: {
    usage: 'lora-lab rm RUN...',
    about: 'Delete runs with their metrics, evaluations and adapters. A run whose model other runs depend on is refused.',
    options: JSON_FLAG,
    examples: ['lora-lab rm 4 5'],
  },
  tag: {
    usage: 'lora-lab tag RUN TAG... [--remove]',
    about: 'Add tags to a run (or take them off with --remove).',
    options: `  --remove              take these tags off instead\n${JSON_FLAG}`,
    examples: ['lora-lab tag 2 baseline classic', 'lora-lab tag 2 classic --remove'],
  },
  models: {
    usage: 'lora-lab models',
    about: 'Stored models (trained, imported, merged): their layers, where they came from and what depends on them.',
    options: JSON_FLAG,
    examples: ['lora-lab models'],
  },
  merge: {
    usage: 'lora-lab merge --adapter ID[:WEIGHT] ... [options]',
    about: 'Preview combined adapters: accuracy and wrong per class of the base, of each adapter alone (at full weight)\nand of the combination with the weights given; --save stores the combination.',
    options: `  --adapter ID[:WEIGHT] an adapter (3 or a3) and its weight (1); repeat for each adapter
  --base MODEL          the base model (default: the first adapter's)
  --method M            how they combine, PEFT's names (linear); W < 0 subtracts an adapter (task negation):
      linear               Σ w·ΔW, exact (ΔW = scaling·B·A); any ranks
      cat                  the same sum kept as factors, rank Σ r
      svd                  that sum truncated to rank K by SVD
      ties                 TIES on the A's and on the B's separately: keep the largest D of each,
                           elect a sign per value, average what agrees; one rank for all
      ties_svd             TIES on the full ΔW's, then rank K by SVD (any ranks)
      dare_linear          DARE on the A's and B's: keep each value with probability D, rescale by 1/D, sum
      dare_ties            DARE, then TIES' sign election and mean of what agrees (A's and B's)
      dare_linear_svd      DARE + sum on the full ΔW's, then rank K by SVD (was "dare": D = 1 − drop rate)
      dare_ties_svd        DARE + TIES on the full ΔW's, then rank K by SVD
      magnitude_prune      keep the largest D of each A and B, sum
      magnitude_prune_svd  keep the largest D of each ΔW, sum, then rank K by SVD
                           a DoRA adapter merges into its base only alone, with weight 1 (linear)
  --rank K              output rank (svd and *_svd; default the largest adapter rank)
  --density D           fraction of values kept, 0 to 1 (every method but linear, cat, svd)
  --majority-sign S     total (sign of the sum, default) or frequency (sign of the count): ties methods
  --seed N              random seed of the DARE masks and the *_svd methods' SVD (0)
  --test-limit N        evaluate on fewer test images
  --no-preview          skip the preview (with --save)
  --save NAME --as model|adapter   store the combination as a model (merged weights) or an adapter
${JSON_FLAG}`,
    examples: [
      'lora-lab merge --adapter a1 --adapter a2:0.5',
      'lora-lab merge --adapter a1 --adapter a2 --method svd --rank 2 --save "1+2 svd" --as adapter',
      'lora-lab merge --adapter 2 --adapter 3:-1 --method dare_ties --density 0.5 --majority-sign frequency',
    ],
  },
  export: {
    usage: 'lora-lab export ID... --format safetensors|peft|tfjs|csv|json --out PATH [--merged] [--force]',
    about: 'Write a run (5 or r5), a model (m3) or an adapter (a2) in a format other tools load; several runs export a comparison.\nsafetensors: PyTorch layout; peft: a Hugging Face PEFT adapter folder; tfjs: a TF.js folder; csv/json: parameters and metrics.',
    options: `  --format F            safetensors, peft, tfjs, csv or json
  --out PATH            the file to write (a folder for peft and tfjs)
  --merged              an adapter or LoRA run: its weights merged into the base
  --force               replace an earlier LoRA Lab export at PATH
${JSON_FLAG}`,
    examples: ['lora-lab export m1 --format safetensors --out base.safetensors', 'lora-lab export a2 --format peft --out adapter-2/', 'lora-lab export 1 2 --format csv --out compare.csv'],
  },
  import: {
    usage: 'lora-lab import PATH [--as model|adapter] [--base MODEL] [--name NAME]',
    about: 'Store outside weights: a .safetensors file of base weights (PyTorch layout) as a model, or a PEFT adapter folder\n(adapter_config.json + adapter_model.safetensors) as an adapter on a stored base model.',
    options: `  --as model|adapter    what PATH is (default: a .safetensors file is a model, anything else an adapter)
  --base MODEL          an adapter's base model (3 or m3; lora-lab models lists them)
  --name NAME           the name to store (default: the file or folder name)
${JSON_FLAG}`,
    examples: ['lora-lab import base.safetensors', 'lora-lab import adapter-2/ --base m1'],
  },
  evaluate: {
    usage: 'lora-lab evaluate MODEL [--test-limit N]',
    about: 'Accuracy and wrong per class of a stored model (3 or m3) on the test set of its data set.',
    options: `  --test-limit N        evaluate on fewer test images\n${JSON_FLAG}`,
    examples: ['lora-lab evaluate m1'],
  },
  analyze: {
    usage: 'lora-lab analyze ADAPTER [--vs ADAPTER] [--intruders K,EPS | --no-intruders]',
    about: `What an update ΔW looks like, per adapted layer. ADAPTER is an adapter (a2), a LoRA run or a full fine-tune
(5 or r5), or a fine-tuned or merged model (m4: its W − W0 against its parent).
  singular values of ΔW = s·B·A, from the rank-r factors (DoRA, full fine-tunes, merges: the dense W′ − W0)
  effective rank exp(−Σ pᵢ ln pᵢ), pᵢ = σᵢ/Σσ; stable rank ‖ΔW‖²_F/‖ΔW‖²₂; the rank holding 90% of Σσᵢ²; ‖ΔW‖_F/‖W0‖_F
  amplification ‖ΔW‖_F/‖UᵀW0V‖_F, U, V the top-r singular vectors of ΔW (the LoRA paper, §7.3; r = 8 for a model)
  intruder dimensions: of the top K left singular vectors of W0 + ΔW, those whose |cosine| with every
    left singular vector of W0 is below EPS (Shuttleworth et al. 2024; PEFT's defaults K = 10, EPS = 0.5).
    W0's full spectrum takes seconds for the classic MLP the first time; it is kept for the next analysis.
  --vs: the subspace similarity φ(i, j) = ‖U₁[:, :i]ᵀU₂[:, :j]‖²_F / min(i, j) of the two adapters' top
    directions (input and output side), as in the LoRA paper's Figures 3–4; both must share a base.`,
    options: `  --vs ADAPTER          a second update on the same base (a2, 5, m4): φ between them
  --intruders K,EPS     how many top directions to check and the cosine threshold (10,0.5)
  --no-intruders        skip intruder dimensions (no spectrum of W0 needed)
  --json                the analysis as JSON (per layer: singular values, ranks, amplification, intruders; with --vs, φ)`,
    examples: ['lora-lab analyze 2', 'lora-lab analyze a3 --vs a4 --json', 'lora-lab analyze r5 --intruders 20,0.3', 'lora-lab analyze a3 --vs m4   # LoRA against a full fine-tune'],
  },
  worker: {
    usage: 'lora-lab worker --redis URL [--concurrency N] [--name NAME] [--cache DIR] [--backend B]',
    about: `A remote worker: takes runs from the queue a LoRA Lab host sends to (BullMQ on Redis), trains each in a trainer
process of its own with this machine's backend, streams progress and metrics back and returns the weights. It never
opens a database: base weights and imported data sets come through Redis by content hash and are cached in --cache.
A worker killed mid-run has its run taken up by another, as a new attempt. The URL's password is never printed. A TLS
server whose certificate a private CA signed: LORA_LAB_REDIS_CA=ca.pem.`,
    options: `  --redis URL           redis://[user:password@]host:port, or rediss://… for TLS (default $LORA_LAB_REDIS)
  --concurrency N       runs trained at once (1)
  --name NAME           how the host lists this worker (hostname-pid)
  --cache DIR           fetched base weights and data sets (default $XDG_CACHE_HOME/lora-lab/worker)
  --backend B           the trainer backend, as for train`,
    examples: ['lora-lab worker --redis redis://:secret@10.0.0.5:6379 --name gpu-box --concurrency 2'],
  },
  forgetting: {
    usage: 'lora-lab forgetting (RUN... | --sweep ID)',
    about: `Learning against forgetting (Biderman et al. 2024, "LoRA Learns Less and Forgets Less") for fine-tunes of one slice:
per run (LoRA at any rank, full fine-tunes) its accuracy on the fine-tuned classes and on the others, before → after;
learned = the first's gain, forgotten = the second's loss, in percentage points against the base; ◆ marks the Pareto
front (no other run learned as much while forgetting less). Base runs, unfinished runs and runs on another slice are
listed as left out, with the reason. The app draws it as a scatter with each run's trajectory over its evaluations.`,
    options: `  --sweep ID            a sweep's runs\n${JSON_FLAG}`,
    examples: ['lora-lab forgetting 3 4 5 6', 'lora-lab forgetting --sweep 2 --json'],
  },
  data: {
    usage: 'lora-lab data import PATH | add NAME | list | show NAME|ID | rm NAME|ID...',
    about: `Data sets to train on. MNIST is always there; fashion-mnist is added from its package by data add fashion-mnist,
or on first use of --data fashion-mnist. data import reads your own into the database:
  a .csv file or a folder of CSV files (one *train* and one *test* file, or one file split by --test-fraction):
    one label column (label, class, target or y, else the first) and numeric features; columns pixel0…pixelN
    with values 0–255 are a square grey image. Class names are the labels (or a classes.txt beside them);
  a folder of IDX files (train-images / train-labels / t10k-… or test-…, gzipped or not);
  a folder with one subfolder of PNG or JPEG images per class (the folder names are the class names),
    or train/ and test/ (or val/) folders holding such subfolders.
A data set is named by its name or id (a bare number). rm is refused while runs or models use it.`,
    options: `  --name NAME           import: the name (default: the file or folder name)
  --format idx|csv|images   import: what PATH is (default: found from its name and listing)
  --test-fraction F     import: the share of each class held out as test samples, when PATH has no test split (0.2)
  --seed N              import: the seed of that split (0)
  --label-column NAME   import: a CSV table's class column (default: label, class, target, species …, else the first)
${JSON_FLAG}
  -q, --quiet           no progress bar`,
    examples: [
      'lora-lab data import flowers/ --name flowers',
      'lora-lab data import iris.csv --test-fraction 0.25 --seed 1',
      'lora-lab data add fashion-mnist',
      'lora-lab data list',
      'lora-lab data show flowers --json',
      'lora-lab data rm flowers',
    ],
  },
  sweep: {
    usage:
      'lora-lab sweep create (--finetune-from MODEL | --kind base | --from-run RUN) --grid PATH=V1,V2,... [--grid ...]\n' +
      '                      [--random PATH=DIST ...] [--trials N] [--seeds K] [--budget N] [--concurrency N]\n' +
      '                      [--prune asha:METRIC[:ETA]] [--name NAME] [--detach] [run options]\n' +
      '       lora-lab sweep list | show ID [--objective FIGURE] | cancel ID | resume ID | rm ID',
    about: `A sweep trains many runs from one starting point: every combination of the --grid values (the grid), and/or
--trials points drawn from --random distributions, each point repeated over --seeds seeds (the starting seed, +1, …).
The run options set the starting config; a PATH is a config path (lr, lora.r, lora.alpha, batchSize, maxSteps,
lora.variant, lora.init, lora.freezeA …), its values typed like the starting config's value there. The whole spec is checked before anything runs (an unknown
path, a value the config refuses, an empty axis, a budget below one point: one message, exit 2). create waits with a
progress bar and prints a row per point: n and mean ± std of accuracy, focus wrong, loss and time, the best point
marked; Ctrl-C cancels the sweep (running runs stop cleanly, pending ones never start).
The sweep trains only while a process drives it: with --detach create returns the id at once and the sweep pauses
when it exits; resume it with lora-lab sweep resume ID, or open the app / lora-lab serve, which go on with it.
A run a killed process was training is trained again from the start on resume (attempt 2); no point runs twice.`,
    options: `  --finetune-from MODEL LoRA fine-tunes of a stored model (3, m3 or latest); --kind lora: of the newest model
  --kind base           base trainings
  --from-run RUN        variations of a stored run (its config is the starting config)
  --grid PATH=V1,V2,... a grid axis (repeat for more: the points are every combination), e.g. lora.r=1,2,4
  --random PATH=DIST    a random axis: uniform(a,b), log-uniform(a,b) (or loguniform), int(a,b), choice(a,b,c)
  --trials N            points drawn from the random axes (1)
  --sampling-seed N     the seed they are drawn with (0)
  --seeds K             runs per point, seeds = the starting seed + 0 … K−1 (1)
  --budget N            at most N runs (whole points, in order)
  --concurrency N       runs trained at once (1)
  --prune asha:METRIC[:ETA]  stop runs early by ASHA on METRIC (val/accuracy, val/loss, train/loss; η 3); needs --eval-every for val/*
  --name NAME           the sweep's name (its runs are named after it and their point)
  --tag TAG             a tag for every run of the sweep (repeatable; each also gets sweep:ID)
  --objective FIGURE    the figure the best point is chosen by: accuracy, focusWrong (default with --classes), finalLoss …
  --detach              return at once (the sweep pauses until resumed)
${runOptions('finetune').replace(/^Run options.*\n/, 'Run options (the starting config):\n').replace(/\n  --name NAME.*$/m, '')}`,
    examples: [
      'lora-lab sweep create --finetune-from latest --grid lora.r=1,2,4 --grid lr=0.001,0.003,0.01 --seeds 3',
      'lora-lab sweep create --kind base --hidden 64 --random lr=log-uniform(0.0001,0.01) --trials 8 --steps 300',
      'lora-lab sweep create --finetune-from m1 --grid lora.r=1,2,4,8 --eval-every 20 --prune asha:val/accuracy --concurrency 2',
      'lora-lab sweep create --from-run 5 --grid lora.alpha=1,4,16 --seeds 2 --detach',
      'lora-lab sweep create --finetune-from latest --grid lora.variant=lora,dora --grid lora.init=kaiming,pissa --grid lora.freezeA=false,true --seeds 3',
      'lora-lab sweep resume 2',
      'lora-lab sweep show 2 --objective accuracy --json',
    ],
  },
  groups: {
    usage: 'lora-lab groups (RUN... | --sweep ID) [--by PATH,...]',
    about: `Runs grouped by their config minus the seed (or by the paths in --by): a row per group with n and mean ± std of
accuracy, the focus classes' wrong count, accuracy elsewhere, final loss and time, then wrong per class (mean ± std),
and the runs left out (not completed). With --json every group states its values, n, and mean, std and n of each figure.`,
    options: `  --sweep ID            every run of a sweep
  --by PATH,...         group by these config paths (default: those that differ between the runs, but the seed)
${JSON_FLAG}`,
    examples: ['lora-lab groups 4 5 6 7 8 9', 'lora-lab groups --sweep 2', 'lora-lab groups --sweep 2 --by lora.r --json'],
  },
  serve: {
    usage: 'lora-lab serve [--port N] [--host H] [--open] [--concurrency N] [--redis URL]',
    about: `Web mode: the app in your browser, at a 127.0.0.1 address with a token; Ctrl-C stops it. Runs go to remote
workers with --redis URL, or on the queue set on the Workers page (remembered beside the database, like the app).`,
    options: `  --port N              the port (default: a free one)
  --host H              the address to listen on (127.0.0.1)
  --allow-remote        needed for a --host other than loopback (the token URL then drives the lab)
  --open                open the address in the browser
  --concurrency N       runs trained at once (1)
  --backend B           force a compute backend (cuda, tensorflow, webgpu, wasm, cpu)
  --redis URL           send runs to remote workers on this Redis (lora-lab worker --redis URL)`,
    examples: ['lora-lab serve --open', 'lora-lab serve --port 8080', 'lora-lab serve --redis redis://:secret@10.0.0.5:6379'],
  },
};

export const COMMANDS = Object.keys(HELP);

/** The help of one command, or null when there is no such command. */
export function commandHelp(cmd: string): string | null {
  const h = HELP[cmd];
  if (!h) return null;
  return [`Usage: ${h.usage}`, '', h.about, '', 'Options:', h.options, COMMON, '', `Example${h.examples.length > 1 ? 's' : ''}:`, ...h.examples.map((e) => `  ${e}`)].join('\n');
}

/** Whether argv asks for help: -h or --help before a `--` (which ends the options). */
export function wantsHelp(argv: string[]): boolean {
  for (const a of argv) {
    if (a === '--') return false;
    if (a === '--help' || a === '-h') return true;
  }
  return false;
}

/** The package's version, from the package.json above dist/cli.js (bundled) or src-main/cli/help.ts. */
export { version } from '../util/version.ts';
