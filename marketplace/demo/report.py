"""What a demo seeding created, and the accounts to try it with."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Report:
    created: dict = field(default_factory=lambda: dict.fromkeys(
        ("cooperatives", "buyers", "users", "listings", "orders", "demands", "history_orders", "history_lines"), 0))
    logins: list = field(default_factory=list)
    password: str = ""

    def summary(self) -> str:
        lines = [
            "Datos de demostración listos "
            f"(nuevas: {self.created['cooperatives']} cooperativas, {self.created['buyers']} compradores, "
            f"{self.created['users']} usuarios, {self.created['listings']} ofertas, "
            f"{self.created['orders']} pedidos, {self.created['demands']} solicitudes de compra).",
            f"Historial: {self.created['history_orders']} pedidos de los últimos doce meses "
            f"({self.created['history_lines']} líneas).",
            f"Contraseña de todas las cuentas de demostración: {self.password}",
            "Sin proveedores de mensajes, los avisos por WhatsApp, SMS y correo se leen en /dev/mensajes "
            "(fuera de producción) una vez que el trabajador los envía.",
            "Cuentas para probar:",
        ]
        lines += [f"  {role:<32} {login}" for role, login in self.logins]
        return "\n".join(lines)
