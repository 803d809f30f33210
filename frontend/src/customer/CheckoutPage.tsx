import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router";
import { placeOrder } from "../api/customer";
import type { Customer, PlaceOrderBody } from "../api/types";
import {
  LIMITS,
  normalizeCustomer,
  validateCustomer,
  validateField,
  validateLines,
  type CustomerErrors,
  type CustomerField,
} from "../api/validation";
import { orderLines } from "./cart";
import { CartPanel } from "./CartPanel";
import { useCart } from "./CartProvider";
import { forgetAttempt, keyForAttempt } from "./checkoutAttempt";
import { loadDraft, saveDraft } from "./customerDraft";
import { rememberOrder } from "./myOrders";
import { describePlaceError, type PlaceFailure } from "./placeErrors";
import { browserStorage } from "./storage";
import { TextField } from "./TextField";
import { MENU_QUERY_KEY, useMenu } from "./useMenu";
import { errorBox, muted, primaryButton, textLink } from "./ui";

const FIELD_ORDER: readonly CustomerField[] = ["name", "address", "phone"];

export function CheckoutPage() {
  const storage = browserStorage();
  const cart = useCart();
  const menu = useMenu();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [customer, setCustomer] = useState<Customer>(() => loadDraft(storage));
  const [errors, setErrors] = useState<CustomerErrors>({});
  const [touched, setTouched] = useState<Partial<Record<CustomerField, boolean>>>({});
  const [failure, setFailure] = useState<PlaceFailure | null>(null);
  const fieldRefs = useRef<Partial<Record<CustomerField, HTMLInputElement | HTMLTextAreaElement | null>>>({});
  const failureRef = useRef<HTMLDivElement>(null);

  const place = useMutation({
    mutationFn: ({ body, key }: { body: PlaceOrderBody; key: string }) => placeOrder(body, key),
    onSuccess: (created) => {
      forgetAttempt(storage);
      rememberOrder(storage, created);
      cart.clear();
      void queryClient.invalidateQueries({ queryKey: MENU_QUERY_KEY });
      void navigate(`/track/${created.id}`);
    },
    onError: (error) => {
      const nameOf = (itemId: string) =>
        menu.data?.byId.get(itemId)?.name ?? cart.lines.find((l) => l.itemId === itemId)?.name ?? itemId;
      const described = describePlaceError(error, nameOf);
      if (described.forgetKey) forgetAttempt(storage);
      if (described.refreshMenu) void queryClient.invalidateQueries({ queryKey: MENU_QUERY_KEY });
      setFailure(described);
      const serverFields = Object.keys(described.fieldErrors) as CustomerField[];
      if (serverFields.length > 0) {
        // Our own wording where the client-side rule agrees, the server's where it does not.
        const merged: CustomerErrors = {};
        for (const field of serverFields) {
          merged[field] = validateField(field, customer[field]) ?? described.fieldErrors[field];
        }
        setErrors(merged);
        fieldRefs.current[serverFields[0]!]?.focus();
      }
    },
  });

  useEffect(() => {
    // Screen reader and keyboard users land on what went wrong.
    if (failure !== null && Object.keys(failure.fieldErrors).length === 0) failureRef.current?.focus();
  }, [failure]);

  const change = (field: CustomerField, value: string) => {
    const next = { ...customer, [field]: value };
    setCustomer(next);
    saveDraft(storage, next);
    if (touched[field]) setErrors((prev) => ({ ...prev, [field]: validateField(field, value) }));
  };

  const blur = (field: CustomerField) => {
    setTouched((prev) => ({ ...prev, [field]: true }));
    setErrors((prev) => ({ ...prev, [field]: validateField(field, customer[field]) }));
  };

  const linesProblem = validateLines(orderLines(cart.lines));

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (place.isPending) return;
    const found = validateCustomer(customer);
    setErrors(found);
    setTouched({ name: true, address: true, phone: true });
    const firstInvalid = FIELD_ORDER.find((field) => found[field] !== undefined);
    if (firstInvalid !== undefined) {
      fieldRefs.current[firstInvalid]?.focus();
      return;
    }
    if (linesProblem !== null) return;
    setFailure(null);
    const body: PlaceOrderBody = { customer: normalizeCustomer(customer), items: orderLines(cart.lines) };
    place.mutate({ body, key: keyForAttempt(storage, body) });
  };

  if (cart.lines.length === 0 && !place.isPending && !place.isSuccess) {
    return (
      <div className="mx-auto max-w-xl">
        <title>Checkout · orders-saga</title>
        <h1 className="mb-4 text-2xl font-bold">Checkout</h1>
        <p>
          Your cart is empty.{" "}
          <Link to="/" className={textLink}>
            Back to the menu
          </Link>
        </p>
      </div>
    );
  }

  return (
    <div className="grid gap-6 lg:grid-cols-[1fr_22rem]">
      <div>
        <title>Checkout · orders-saga</title>
        <h1 className="mb-4 text-2xl font-bold">Checkout</h1>
        <form noValidate onSubmit={submit} aria-describedby="checkout-required" className="flex max-w-xl flex-col gap-4">
          <p id="checkout-required" className={`text-sm ${muted}`}>
            All fields are required.
          </p>
          <TextField
            id="checkout-name"
            label="Name"
            autoComplete="name"
            hint={`Up to ${LIMITS.name.max} characters.`}
            value={customer.name}
            error={errors.name}
            onChange={(v) => change("name", v)}
            onBlur={() => blur("name")}
            ref={(el) => {
              fieldRefs.current.name = el;
            }}
          />
          <TextField
            id="checkout-address"
            label="Address"
            multiline
            autoComplete="street-address"
            hint={`${LIMITS.address.min} to ${LIMITS.address.max} characters.`}
            value={customer.address}
            error={errors.address}
            onChange={(v) => change("address", v)}
            onBlur={() => blur("address")}
            ref={(el) => {
              fieldRefs.current.address = el;
            }}
          />
          <TextField
            id="checkout-phone"
            label="Phone"
            type="tel"
            inputMode="tel"
            autoComplete="tel"
            hint="A digit first (after an optional +), then digits, spaces and ( ) . -"
            value={customer.phone}
            error={errors.phone}
            onChange={(v) => change("phone", v)}
            onBlur={() => blur("phone")}
            ref={(el) => {
              fieldRefs.current.phone = el;
            }}
          />
          {linesProblem !== null && (
            <p role="alert" className={errorBox}>
              {linesProblem}
            </p>
          )}
          {failure !== null && (
            <div ref={failureRef} tabIndex={-1} role="alert" className={errorBox} data-testid="checkout-error">
              {failure.message}
            </div>
          )}
          <div className="flex flex-wrap items-center gap-3">
            <button type="submit" className={primaryButton} disabled={place.isPending || linesProblem !== null}>
              Place order
            </button>
            {place.isPending && (
              <span role="status" className={muted}>
                Placing your order…
              </span>
            )}
            <Link to="/" className={textLink}>
              Back to the menu
            </Link>
          </div>
        </form>
      </div>
      <aside aria-label="Order summary" className="lg:sticky lg:top-4 lg:self-start">
        <CartPanel menu={menu.data?.byId} problemItemId={failure?.itemId ?? null} />
      </aside>
    </div>
  );
}
