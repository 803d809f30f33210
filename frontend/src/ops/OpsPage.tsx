// Placeholder: replaced by the operator dashboard.
export function OpsPage() {
  return <p>Operations</p>;
}
