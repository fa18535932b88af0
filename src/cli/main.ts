import yargs from 'yargs';
import { Parser } from 'yargs/helpers';
import { CELL_KINDS } from '../models/registry.js';
import { SeqlabError, exitCodeOf, oneLine } from '../util/errors.js';
import { systemIoError } from '../util/files.js';
import { agreementCommand, agreementOptions } from './agreement.js';
import { benchCommand, benchOptions } from './bench.js';
import { sampleCommand, sampleOptions } from './sample.js';
import { compareCommand, compareOptions } from './compare.js';
import { demoCommand, demoOptions } from './demo.js';
import { evalLMCommand, evalLMOptions } from './eval-lm.js';
import { exportCommand, exportOptions } from './export.js';
import { labCommand, labOptions } from './lab.js';
import { mnistCommand, mnistOptions } from './mnist.js';
import { ngramCommand, ngramOptions } from './ngram.js';
import { probeCommand, probeOptions } from './probe.js';
import { reportCommand, reportOptions } from './report.js';
import { sweepCommand, sweepOptions } from './sweep.js';
import { trainCommand, trainOptions } from './train.js';
import { cliMessage } from './options.js';

/**
 * The `seqlab` binary: parse, call one library function, print. Every failure is
 * one line on stderr and a non-zero exit code; stack traces only with --verbose.
 */
export async function main(args: string[]): Promise<number> {
  const verbose = args.includes('--verbose');
  let exitCode = 0;
  const fail = (message: string, code: number) => {
    process.stderr.write(`seqlab: ${oneLine(message)}\n`);
    exitCode = code;
  };
  try {
    await yargs(args)
      .scriptName('seqlab')
      .usage('$0 <command> [options]')
      .command(
        'compare',
        `train ${CELL_KINDS.join('/')} side by side on one task (default: the agreement probe)`,
        compareOptions,
        compareCommand,
      )
      .command('train', 'train one model on one task; writes a run directory', trainOptions, trainCommand)
      .command('probe', 'gradient flow ‖∂h_T/∂h_k‖ of a cell: random or PyTorch weights', probeOptions, probeCommand)
      .command(
        'ngram',
        'Kneser–Ney n-gram baseline: valid/test perplexity on a corpus (brown, a text file, a PTB directory)',
        ngramOptions,
        ngramCommand,
      )
      .command(
        'sample',
        'generate text from a word LM: a --task lm checkpoint, or PyTorch weights (safetensors) with --vocab',
        sampleOptions,
        sampleCommand,
      )
      .command(
        'eval-lm',
        'perplexity of a word LM (checkpoint, or PyTorch safetensors + --vocab) with word_language_model’s batching',
        evalLMOptions,
        evalLMCommand,
      )
      .command(
        'export',
        'a checkpoint as safetensors with PyTorch names (an lm run: word_language_model’s RNNModel + vocab.txt)',
        exportOptions,
        exportCommand,
      )
      .command(
        'agreement <action>',
        'subject–verb agreement on real text: extract items from UD treebanks, build the Portuguese LM corpus, ' +
          'eval a word LM on items',
        agreementOptions,
        agreementCommand,
      )
      .command(
        'lab',
        `the lab in the browser: train ${CELL_KINDS.join('/')} side by side and watch ‖∂h_T/∂h_k‖ live ` +
          '(--port, --out DIR)',
        labOptions,
        labCommand,
      )
      .command(
        'report [dir]',
        'report.html with plots (SVG, PNG) and a terminal summary of a train, compare or sweep run directory',
        reportOptions,
        reportCommand,
      )
      .command(
        'sweep [config]',
        'a grid of train runs from a JSON/YAML file: --workers N processes, --shard i/n for job arrays, --collect DIR',
        sweepOptions,
        sweepCommand,
      )
      .command(
        'mnist <experiment>',
        'MNIST MLP depth experiments: deltas, speed, depth, remedies, train (Nielsen ch. 5)',
        mnistOptions,
        mnistCommand,
      )
      .command('demo <name>', 'the small demos: chain, xor, activations, approx', demoOptions, demoCommand)
      .command(
        'bench',
        'training-step and probe throughput, beside PyTorch / tf.layers when given',
        benchOptions,
        benchCommand,
      )
      .option('verbose', { type: 'boolean', default: false, describe: 'stack traces on errors' })
      .demandCommand(
        1,
        'name a command: compare, train, probe, sample, eval-lm, export, ngram, agreement, report, sweep, mnist, ' +
          'demo, bench (seqlab --help lists them)',
      )
      .strict()
      .parserConfiguration({ 'duplicate-arguments-array': false }) // a repeated option: the last one wins
      .recommendCommands()
      .version(false)
      .help()
      .wrap(Math.min(110, process.stdout.columns ?? 110))
      .fail((msg, err) => {
        if (err) throw err;
        throw new SeqlabError('usage', usageLine(msg, args));
      })
      .parseAsync();
  } catch (caught) {
    // a file-system failure no command wrapped (ENOSPC, EACCES, EIO on a path) is still one line and exit 5
    const e = systemIoError(caught) ?? caught;
    if (e instanceof SeqlabError) {
      fail(cliMessage(e), exitCodeOf(e));
    } else {
      const err = e as Error;
      fail(
        `internal error: ${err?.message ?? String(e)}${verbose ? '' : ' (run with --verbose for the stack trace)'}`,
        1,
      );
      if (verbose) process.stderr.write(`${err?.stack ?? ''}\n`);
    }
  }
  return exitCode;
}

/**
 * A yargs message as one line that names the problem: "Invalid values:\n  Argument: backend, …"
 * is joined, and "Did you mean probe?" gets the command that was typed.
 */
function usageLine(msg: string, args: string[]): string {
  const line = msg
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean)
    .join(' ');
  if (!line.startsWith('Did you mean')) return line;
  const typed = Parser(args, { boolean: ['verbose', 'help'] })._[0];
  return `unknown command ${JSON.stringify(String(typed))}; ${line.replace(/^Did/, 'did')}`;
}
