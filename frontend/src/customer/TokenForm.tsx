import { useState, type FormEvent } from "react";
import { TextField } from "./TextField";
import { secondaryButton } from "./ui";

/** Track an order placed elsewhere by pasting its tracking token (kept for this visit only). */
export function TokenForm({ onToken }: { onToken(token: string): void }) {
  const [value, setValue] = useState("");
  const [error, setError] = useState<string | undefined>();
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const token = value.trim();
    if (token === "") {
      setError("Paste the order’s tracking token.");
      return;
    }
    setError(undefined);
    onToken(token);
  };
  return (
    <form noValidate onSubmit={submit} className="flex max-w-xl flex-col gap-3">
      <TextField
        id="tracking-token"
        label="Tracking token"
        autoComplete="off"
        spellCheck={false}
        value={value}
        error={error}
        onChange={setValue}
      />
      <div>
        <button type="submit" className={secondaryButton}>
          Track with this token
        </button>
      </div>
    </form>
  );
}
