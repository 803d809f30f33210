import { useId, useState, type FormEvent } from "react";
import { buttonClass, focusRing } from "./ui";

/** Asks for the operator key; `notice` explains why it is asked again (e.g. a 401). */
export function KeyPrompt({
  notice,
  onSubmit,
}: {
  notice: string | null;
  onSubmit: (key: string) => void;
}) {
  const [value, setValue] = useState("");
  const [touched, setTouched] = useState(false);
  const inputId = useId();
  const helpId = useId();
  const errorId = useId();
  const empty = !value.trim();

  function submit(event: FormEvent) {
    event.preventDefault();
    setTouched(true);
    if (!empty) onSubmit(value.trim());
  }

  return (
    <div className="mx-auto max-w-md">
      <h1 className="mb-2 text-2xl font-bold">Operations</h1>
      <p className="mb-4 text-slate-600 dark:text-slate-400">
        The operator dashboard needs the operator API key. <code>orders-saga up</code> prints it and
        keeps it in <code>.data/secrets.json</code>.
      </p>
      {notice && (
        <p
          role="alert"
          className="mb-4 rounded-md border border-red-300 bg-red-50 p-3 text-sm text-red-900 dark:border-red-800 dark:bg-red-950 dark:text-red-100"
        >
          {notice}
        </p>
      )}
      <form
        onSubmit={submit}
        noValidate
        className="space-y-3 rounded-lg border border-slate-200 p-4 dark:border-slate-800"
      >
        <div>
          <label htmlFor={inputId} className="block text-sm font-medium">
            Operator key
          </label>
          <input
            id={inputId}
            type="password"
            autoComplete="current-password"
            spellCheck={false}
            value={value}
            onChange={(e) => setValue(e.target.value)}
            aria-describedby={touched && empty ? `${helpId} ${errorId}` : helpId}
            aria-invalid={touched && empty}
            className={`mt-1 block w-full rounded-md border border-slate-300 bg-white px-3 py-2 font-mono text-sm dark:border-slate-600 dark:bg-slate-900 ${focusRing}`}
          />
          <p id={helpId} className="mt-1 text-xs text-slate-600 dark:text-slate-400">
            Kept in this browser until you choose “Forget key”.
          </p>
          {touched && empty && (
            <p id={errorId} className="mt-1 text-sm text-red-700 dark:text-red-300">
              Enter the operator key.
            </p>
          )}
        </div>
        <button type="submit" className={buttonClass.primary}>
          Sign in
        </button>
      </form>
    </div>
  );
}
