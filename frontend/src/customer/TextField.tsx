import type { InputHTMLAttributes, Ref } from "react";
import { errorText, input, muted } from "./ui";

interface Props extends Omit<InputHTMLAttributes<HTMLInputElement & HTMLTextAreaElement>, "onChange" | "value"> {
  id: string;
  label: string;
  hint?: string;
  error?: string;
  value: string;
  multiline?: boolean;
  onChange(value: string): void;
  ref?: Ref<HTMLInputElement & HTMLTextAreaElement>;
}

/** A labelled input whose hint and error are tied to it (aria-describedby, aria-invalid). */
export function TextField({ id, label, hint, error, value, multiline = false, onChange, ref, ...rest }: Props) {
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const describedBy = [hint ? hintId : null, error ? errorId : null].filter(Boolean).join(" ") || undefined;
  const shared = {
    id,
    value,
    "aria-invalid": error ? true : undefined,
    "aria-describedby": describedBy,
    className: input,
    ...rest,
  };
  return (
    <div className="flex flex-col gap-1">
      <label htmlFor={id} className="font-medium">
        {label}
      </label>
      {multiline ? (
        <textarea {...shared} ref={ref} rows={3} onChange={(e) => onChange(e.currentTarget.value)} />
      ) : (
        <input {...shared} ref={ref} onChange={(e) => onChange(e.currentTarget.value)} />
      )}
      {hint && (
        <p id={hintId} className={`text-sm ${muted}`}>
          {hint}
        </p>
      )}
      {error && (
        <p id={errorId} className={errorText}>
          {error}
        </p>
      )}
    </div>
  );
}
