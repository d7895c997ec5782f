;;; session.el --- an Emacs + eglot session against `nnc lsp`  -*- lexical-binding: t -*-
;; Run by test/lsp/emacs.test.ts:  emacs --batch -Q -l test/lsp/emacs/session.el
;; with NNC_ROOT (the repository), NNC_FILE (a broken .nn file) and NNC_OUT (where the results go,
;; as JSON). It opens the file, reads Flymake's diagnostics, a hover and a completion, fixes the
;; file with an edit, waits for the diagnostic to go away, and shuts the server down.
;; The setup in the middle is the one docs/editors.md gives for Emacs.

(require 'json)
(require 'cl-lib)
(defvar nnc-root (getenv "NNC_ROOT"))
(defvar nnc-results nil)
(defun nnc-note (key value) (push (cons key value) nnc-results))
(defun nnc-wait (pred seconds)
  "Wait until PRED is true, at most SECONDS; return its value."
  (let ((deadline (+ (float-time) seconds)) (v nil))
    (while (and (not (setq v (funcall pred))) (< (float-time) deadline))
      (accept-process-output nil 0.05))
    v))

;; -Q skips site-start: put Debian's elpa packages (eglot, project, xref) on the load path.
(let ((default-directory "/usr/share/emacs/site-lisp/elpa/"))
  (when (file-directory-p default-directory) (normal-top-level-add-subdirs-to-load-path)))

;; --- the setup of docs/editors.md (the command is this checkout's bin/nnc.js)
(define-derived-mode nn-mode prog-mode "nn"
  "Major mode for .nn neural-network files."
  (setq-local comment-start "# ")
  (setq-local comment-start-skip "#+\\s-*"))
(add-to-list 'auto-mode-alist '("\\.nn\\'" . nn-mode))

(require 'eglot)
(add-to-list 'eglot-server-programs `(nn-mode . ("node" ,(expand-file-name "bin/nnc.js" nnc-root) "lsp")))
(add-hook 'nn-mode-hook #'eglot-ensure)
;; ---

(defun nnc-session ()
  (find-file (getenv "NNC_FILE"))
  (nnc-note 'mode (symbol-name major-mode))
  ;; eglot-ensure starts the server after the current command: there is none in batch mode.
  (run-hooks 'post-command-hook)
  (let ((server (nnc-wait #'eglot-current-server 15)))
    (nnc-note 'connected (and server t))
    ;; 1. Diagnostics, as Flymake has them.
    (flymake-start nil t)
    (nnc-wait (lambda () (flymake-diagnostics)) 15)
    (nnc-note 'diagnostics
              (vconcat (mapcar (lambda (d)
                                 `((line . ,(line-number-at-pos (flymake-diagnostic-beg d)))
                                   (text . ,(buffer-substring-no-properties (flymake-diagnostic-beg d) (flymake-diagnostic-end d)))
                                   (type . ,(symbol-name (flymake-diagnostic-type d)))
                                   (message . ,(flymake-diagnostic-text d))))
                               (flymake-diagnostics))))
    ;; 2. A hover on `conv2d`.
    (goto-char (point-min))
    (search-forward "conv2d")
    (backward-char 2)
    (let ((hover (jsonrpc-request server :textDocument/hover (eglot--TextDocumentPositionParams))))
      (nnc-note 'hover (plist-get (plist-get hover :contents) :value)))
    ;; 3. Completion at the optimizer's value, through completion-at-point's table.
    (goto-char (point-min))
    (search-forward "optimizer adam")
    (backward-char 4)
    (let* ((capf (eglot-completion-at-point))
           (table (nth 2 capf)))
      (nnc-note 'completion (vconcat (all-completions "" table))))
    ;; 4. An edit fixes the file; the diagnostic goes away.
    (goto-char (point-min))
    (search-forward "dnese")
    (replace-match "dense")
    ;; eglot sends the change after an idle moment, and batch Emacs is never idle: send it now.
    (eglot--signal-textDocument/didChange)
    (nnc-note 'cleared (and (nnc-wait (lambda () (null (flymake-diagnostics))) 15) t))
    ;; 5. Shut down: the server answers `shutdown`, and after `exit` ends on its own with 0.
    ;; (eglot-shutdown would kill it right after `exit` without waiting.)
    (let ((proc (jsonrpc--process server)))
      (setf (eglot--shutdown-requested server) t)
      (jsonrpc-request server :shutdown nil)
      (jsonrpc-notify server :exit nil)
      (nnc-wait (lambda () (not (process-live-p proc))) 10)
      (nnc-note 'exit_code (process-exit-status proc)))))

(condition-case err
    (nnc-session)
  (error (nnc-note 'error (format "%S" err))))
(with-temp-file (getenv "NNC_OUT")
  (insert (json-encode nnc-results)))
(kill-emacs 0)
