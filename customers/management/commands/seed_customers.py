from django.core.management.base import BaseCommand
from tqdm import tqdm

from customers.services import customer_seed


class Command(BaseCommand):
    help = (
        "Create N fake customers (store ids 1..N) with realistic ages (18–80, mostly 25–45), "
        "cities and sign-up dates. Idempotent: existing customers are left unchanged."
    )

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=100, help="how many customers (default 100)")
        parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")

    def handle(self, *args, count: int, seed: int, **options):
        with tqdm(total=count, desc="customers", unit="cust", disable=None) as bar:
            created = customer_seed(count=count, seed=seed, progress=bar.update)
        self.stdout.write(self.style.SUCCESS(f"{created} customers created, {count - created} already present."))
