from django.db import migrations, models
from django.db.models.functions import Lower


class Migration(migrations.Migration):
    dependencies = [("shop", "0006_order_ships_at")]
    operations = [
        migrations.AddConstraint(
            model_name="order",
            constraint=models.UniqueConstraint(
                fields=["product", "ships_at"],
                condition=models.Q(quantity__gt=0),
                name="shop_order_one_live_per_slot",
            ),
        ),
        # An expression index: category names unique whatever their case.
        migrations.AddConstraint(
            model_name="category",
            constraint=models.UniqueConstraint(Lower("name"), name="shop_category_name_ci"),
        ),
    ]
