"""Execute one notebook headless in a fresh tslab kernel (called by scripts/pipeline.ts).

Writes the executed notebook and an HTML export, echoes the cells' text output to the log,
and exits 1 with the failing cell's index and its real error text. tslab leaves an error's
name/value empty and puts the message in the cell's stderr, and a throw from a timer after
a cell ends shows up only as 'UncaughtException' text in a later cell: both are caught here.

usage: run_notebook.py NOTEBOOK OUT_IPYNB OUT_HTML KERNEL_NAME
"""
import os
import sys

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbconvert import HTMLExporter

ASYNC_ERROR_MARKERS = ('UncaughtException', 'UnhandledPromiseRejection', 'Unhandled promise rejection')
# The executed copy is for reading (committed for the full profile): text, HTML tables and PNGs only.
MAX_READING_COPY_BYTES = 2 * 1024 * 1024


def reading_copy_problems(nb, size_bytes):
    """Why an executed notebook is not a light reading copy: embedded scripts, or too large."""
    problems = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get('outputs', []):
            data = out.get('data', {})
            html = data.get('text/html', '')
            html = ''.join(html) if isinstance(html, list) else html
            if 'application/javascript' in data or '<script' in html.lower():
                problems.append(f'cell {i} has an output with JavaScript')
                break
    if size_bytes > MAX_READING_COPY_BYTES:
        problems.append(f'{size_bytes / 2**20:.1f} MB, over {MAX_READING_COPY_BYTES / 2**20:.0f} MB')
    return problems


def cell_text(cell):
    """All text a cell printed: streams, error tracebacks and plain-text results."""
    parts = []
    for out in cell.get('outputs', []):
        if out.get('output_type') == 'stream':
            parts.append(out.get('text', ''))
        elif out.get('output_type') == 'error':
            parts.append('\n'.join(out.get('traceback') or []) or f"{out.get('ename', '')}: {out.get('evalue', '')}")
        elif 'text/plain' in out.get('data', {}):
            parts.append(out['data']['text/plain'])
    return ''.join(parts)


class EchoingClient(NotebookClient):
    """A NotebookClient that echoes stream output to the log as it arrives, prefixed by notebook and cell."""

    def __init__(self, nb, tag, **kw):
        super().__init__(nb, **kw)
        self.tag = tag

    current_index = None

    async def async_execute_cell(self, cell, cell_index, *args, **kw):
        self.current_index = cell_index
        return await super().async_execute_cell(cell, cell_index, *args, **kw)

    def output(self, outs, msg, display_id, cell_index):
        if msg['msg_type'] == 'stream':
            for line in msg['content'].get('text', '').splitlines():
                if line.strip():
                    print(f'[{self.tag} cell {cell_index}] {line}', flush=True)
        return super().output(outs, msg, display_id, cell_index)


def main():
    src, out_ipynb, out_html, kernel = sys.argv[1:5]
    tag = src.rsplit('/', 1)[-1][:2]
    nb = nbformat.read(src, as_version=4)
    client = EchoingClient(nb, tag, kernel_name=kernel, timeout=None, startup_timeout=120,
                           resources={'metadata': {'path': '.'}})
    failure = None
    try:
        client.execute()
    except CellExecutionError:
        failure = 'cell raised'
    except Exception as e:  # kernel died, could not start, ...
        failure = f'{type(e).__name__}: {e}'

    # The failing cell: the one running when execution stopped, else the first whose output
    # carries an error or an async-error marker (a timer's throw surfaces in a later cell).
    bad_index, bad_text = None, ''
    if failure == 'cell raised' and client.current_index is not None:
        bad_index = client.current_index
        bad_text = cell_text(nb.cells[bad_index])
    for i, cell in enumerate(nb.cells):
        if bad_index is not None or cell.cell_type != 'code':
            continue
        text = cell_text(cell)
        has_error = any(o.get('output_type') == 'error' for o in cell.get('outputs', []))
        if has_error or any(m in text for m in ASYNC_ERROR_MARKERS):
            bad_index, bad_text = i, text
            break

    nbformat.write(nb, out_ipynb)
    size = os.path.getsize(out_ipynb)
    problems = reading_copy_problems(nb, size)
    print(f'[{tag}] executed copy {out_ipynb}: {size / 1024:.0f} KB' + (f' — NOT a light reading copy: {"; ".join(problems)}' if problems else ', no scripts'), flush=True)
    html, _ = HTMLExporter().from_notebook_node(nb)
    with open(out_html, 'w', encoding='utf-8') as f:
        f.write(html)

    if problems and not failure and bad_index is None:
        print(f'\nFAILED {src}: the executed copy must be light (PNG charts, no scripts, at most 2 MB): {"; ".join(problems)}', file=sys.stderr)
        sys.exit(1)
    if failure or bad_index is not None:
        where = f'cell {bad_index}' if bad_index is not None else 'kernel'
        print(f'\nFAILED {src} at {where}: {failure or "asynchronous error reported in a later cell"}', file=sys.stderr)
        if bad_index is not None:
            print('--- cell source ---\n' + ''.join(nb.cells[bad_index].source), file=sys.stderr)
            print('--- error ---\n' + (bad_text.strip() or '(the kernel printed no message)'), file=sys.stderr)
        sys.exit(1)


if __name__ == '__main__':
    main()
