/**
 * The lora-lab command. Each subcommand parses its flags, talks to the Lab (or the
 * trainer) through a CliContext, and prints a table or, with --json, one JSON value.
 */
import { ConfigError } from './contract/config.ts';
import { UsageError } from './cli/options.ts';
import { demo } from './cli/demo.ts';
import { trainCommand } from './cli/train.ts';
import { dataCommand } from './cli/data.ts';
import { makeSession } from './cli/session.ts';
import { RunFailedError } from './cli/context.ts';
import { compareCommand, modelsCommand, rmCommand, runsCommand, showCommand, tagCommand } from './cli/runs.ts';
import { LabError } from './contract/api.ts';
import { StoreError } from './store/errors.ts';
import { serveCommand } from './cli/serve.ts';
import { terminalSafe } from './cli/sanitize.ts';
import { failureLine } from './cli/error-line.ts';
import { evaluateCommand, exportCommand, importCommand, mergeCommand } from './cli/weights.ts';
import { GENERAL_HELP, commandHelp, version, wantsHelp } from './cli/help.ts';
import { sweepCommand } from './cli/sweep.ts';
import { groupsCommand } from './cli/groups.ts';
import { analyzeCommand } from './cli/analyze.ts';
import { forgettingCommand } from './cli/forgetting.ts';
import { workerCommand } from './cli/worker.ts';
import { type RemoteDispatcher, RemoteConnectError, connectRemote, takeRedisFlag } from './cli/remote-flag.ts';

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === '--version' || cmd === '-V') {
    console.log(`lora-lab ${version()}`);
    return 0;
  }
  if (!cmd || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    // `lora-lab help COMMAND` is `lora-lab COMMAND --help`.
    const topic = cmd === 'help' ? rest[0] : undefined;
    if (topic !== undefined && commandHelp(topic) === null) {
      console.error(`lora-lab: unknown command "${terminalSafe(topic)}" (try lora-lab --help)`);
      return 2;
    }
    console.log(topic === undefined ? GENERAL_HELP : commandHelp(topic));
    return cmd ? 0 : 1;
  }
  // Help is answered before the database is opened or any argument is checked.
  const help = commandHelp(cmd);
  if (help !== null && wantsHelp(rest)) {
    console.log(help);
    return 0;
  }
  // A worker opens no database: it only talks to Redis.
  if (cmd === 'worker') {
    try {
      return await workerCommand(rest);
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      console.error(`lora-lab: ${terminalSafe(err.message)}`);
      return 2;
    }
  }
  const commands: Record<string, (argv: string[], s: ReturnType<typeof makeSession>) => Promise<void>> = {
    demo,
    train: (a, s) => trainCommand('base', a, s),
    finetune: (a, s) => trainCommand('lora', a, s),
    runs: runsCommand,
    show: showCommand,
    compare: compareCommand,
    rm: rmCommand,
    tag: tagCommand,
    models: modelsCommand,
    data: dataCommand,
    serve: serveCommand,
    export: exportCommand,
    merge: mergeCommand,
    import: importCommand,
    evaluate: evaluateCommand,
    analyze: analyzeCommand,
    forgetting: forgettingCommand,
    sweep: sweepCommand,
    groups: groupsCommand,
  };
  let session: ReturnType<typeof makeSession> | null = null;
  let remote: RemoteDispatcher | null = null;
  try {
    const command = commands[cmd];
    if (!command) throw new UsageError(`unknown command "${cmd}" (try lora-lab --help)`);
    // --redis URL: runs go to remote workers (issue 17); the flag is taken out before the command's own parsing.
    const { argv, redis } = takeRedisFlag(cmd, rest);
    if (redis !== null) remote = await connectRemote(redis);
    session = makeSession(argv, remote, cmd === 'serve');
    await command(argv, session);
    return 0;
  } catch (err) {
    // A damaged database (at open it is a UsageError already), SQLite and file-system errors: one line each.
    const line = err instanceof UsageError ? null : failureLine(err);
    if (line !== null) {
      console.error(`lora-lab: ${terminalSafe(line)}`);
      return 1;
    }
    if (err instanceof UsageError || err instanceof ConfigError || err instanceof RunFailedError || err instanceof LabError) {
      console.error(`lora-lab: ${terminalSafe(err.message)}`);
      return err instanceof RunFailedError ? 1 : 2;
    }
    if (err instanceof RemoteConnectError) {
      console.error(`lora-lab: ${terminalSafe(err.message)}`);
      return 1;
    }
    if (err instanceof StoreError) {
      console.error(`lora-lab: ${terminalSafe(err.message)}`);
      return 1;
    }
    throw err;
  } finally {
    try {
      await session?.close();
      await remote?.close();
    } catch (err) {
      // Closing must not replace the real message with a stack (e.g. the file went bad meanwhile).
      console.error(`lora-lab: ${terminalSafe(failureLine(err) ?? `closing the database failed: ${(err as Error).message}`)}`);
      process.exitCode = 1;
    }
  }
}

const code = await main(process.argv.slice(2));
// A failure while closing (set above) turns a success into 1; it never hides another code.
process.exitCode = code !== 0 ? code : (process.exitCode ?? 0);
