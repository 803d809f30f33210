import { Link } from "react-router";
import { textLink } from "./ui";

export function NotFoundPage() {
  return (
    <div>
      <title>Page not found · orders-saga</title>
        <h1 className="mb-4 text-2xl font-bold">Page not found</h1>
      <Link to="/" className={textLink}>
        Back to the menu
      </Link>
    </div>
  );
}
