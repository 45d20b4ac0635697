import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models.functions import Lower


class Category(models.Model):
    name = models.CharField(max_length=50, unique=True)

    class Meta:
        # An expression index (0007).
        constraints = [models.UniqueConstraint(Lower("name"), name="shop_category_name_ci")]


class Product(models.Model):
    sku = models.CharField(max_length=20, unique=True)
    title = models.CharField(max_length=100, db_index=True)
    price = models.DecimalField(max_digits=10, decimal_places=2)
    stock = models.PositiveIntegerField(default=0)
    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="products")
    added = models.DateTimeField(auto_now_add=True)
    # Added by 0002, then renamed from `blurb`.
    description = models.TextField(null=True)

    class Meta:
        unique_together = [("category", "title")]


class Order(models.Model):
    # A uuid primary key (0003), as many applications choose.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    token = models.UUIDField(null=True, unique=True)
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="orders")
    quantity = models.PositiveIntegerField(default=1)
    # A jsonb column (0004), added to a table with rows.
    details = models.JSONField(default=dict)
    # An array column and an interval column (0005), added to a table with rows.
    tags = ArrayField(models.CharField(max_length=20), default=list)
    lead_time = models.DurationField(null=True)
    # A time column (0006).
    ships_at = models.TimeField(null=True)

    class Meta:
        # A partial unique index (0007): one live order per product and slot.
        constraints = [
            models.UniqueConstraint(
                fields=["product", "ships_at"],
                condition=models.Q(quantity__gt=0),
                name="shop_order_one_live_per_slot",
            ),
        ]
