// The console's editor: CodeMirror 6 (pinned in package.json) with YAML, a lint gutter
// for the server's diagnostics, search, history and completion. scripts/build-console.sh
// bundles this file into static/console/editor.js (committed, served by the binary); CI
// runs it with --check. console.js uses only `window.SwitchboardEditor.create`.
import { EditorState, Compartment } from "@codemirror/state";
import {
  EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter,
  drawSelection, highlightSpecialChars,
} from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { indentOnInput, bracketMatching, syntaxHighlighting, defaultHighlightStyle, foldGutter, foldKeymap } from "@codemirror/language";
import { linter, lintGutter, setDiagnostics, lintKeymap } from "@codemirror/lint";
import { searchKeymap, highlightSelectionMatches } from "@codemirror/search";
import { autocompletion, completionKeymap } from "@codemirror/autocomplete";
import { yaml } from "@codemirror/lang-yaml";

/** Position of 1-based line:column in `doc`, clamped to the document. */
function offsetOf(doc, line, column) {
  const l = doc.line(Math.min(Math.max(line || 1, 1), doc.lines));
  return Math.min(l.from + Math.max((column || 1) - 1, 0), l.to);
}

/**
 * Creates an editor in `parent`. Options: `doc`, `readOnly`, `onChange(text)`,
 * `complete(lineBefore, text)` → [{label, type, detail}] (completion words), `nonce`
 * (the page's CSP nonce for CodeMirror's stylesheet).
 */
function create(parent, options = {}) {
  const editable = new Compartment();
  const completion = (context) => {
    const word = context.matchBefore(/[\w.-]*/);
    if (!word || (word.from === word.to && !context.explicit)) return null;
    const line = context.state.doc.lineAt(context.pos);
    const before = line.text.slice(0, context.pos - line.from);
    const items = options.complete ? options.complete(before, context.state.doc.toString()) : [];
    if (!items.length) return null;
    return { from: word.from, options: items, validFor: /^[\w.-]*$/ };
  };
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: options.doc || "",
      extensions: [
        lineNumbers(), foldGutter(), lintGutter(), highlightSpecialChars(), history(), drawSelection(),
        indentOnInput(), bracketMatching(), highlightActiveLine(), highlightActiveLineGutter(),
        highlightSelectionMatches(), syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
        yaml(), autocompletion({ override: [completion] }),
        // Diagnostics come from the server (setDiagnostics); this linter only keeps
        // the gutter and panel wiring, it finds nothing itself.
        linter(null),
        keymap.of([indentWithTab, ...defaultKeymap, ...historyKeymap, ...foldKeymap, ...searchKeymap,
          ...lintKeymap, ...completionKeymap]),
        editable.of([EditorState.readOnly.of(!!options.readOnly), EditorView.editable.of(!options.readOnly)]),
        // The page's CSP admits CodeMirror's <style> element only with the page's nonce.
        options.nonce ? EditorView.cspNonce.of(options.nonce) : [],
        EditorView.contentAttributes.of({ "aria-label": options.label || "Flow YAML" }),
        EditorView.updateListener.of((u) => {
          if (u.docChanged && options.onChange) options.onChange(u.state.doc.toString());
        }),
      ],
    }),
  });
  return {
    view,
    getText: () => view.state.doc.toString(),
    setText(text) {
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
    },
    setReadOnly(readOnly) {
      view.dispatch({ effects: editable.reconfigure([EditorState.readOnly.of(readOnly), EditorView.editable.of(!readOnly)]) });
    },
    /** Server diagnostics ({severity, line, column, message, hint, code}) as markers. */
    setDiagnostics(list) {
      const doc = view.state.doc;
      const marks = list.map((d) => {
        const from = offsetOf(doc, d.line, d.column);
        // Underline from the column to the end of its line (a point at an empty line's end).
        const to = doc.lineAt(from).to;
        return {
          from, to,
          severity: d.severity === "warning" ? "warning" : "error",
          source: d.code,
          message: d.message + (d.hint ? `\nhint: ${d.hint}` : ""),
        };
      });
      view.dispatch(setDiagnostics(view.state, marks));
    },
    /** Moves the cursor to the start of 1-based `line` (and column), scrolled into view. */
    gotoLine(line, column) {
      const pos = offsetOf(view.state.doc, line, column);
      view.dispatch({ selection: { anchor: pos }, scrollIntoView: true });
      view.focus();
    },
    currentLine: () => view.state.doc.lineAt(view.state.selection.main.head).number,
  };
}

window.SwitchboardEditor = { create };
